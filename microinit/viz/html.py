"""The step-through page of a ``Trace``: one self-contained HTML file to click through.

The page walks the forward pass (each node's value from its inputs, in topological
order) and then backpropagation (each node's gradient, from the output back), one node
per step, with the graph drawn by ``microinit.viz.svg`` and the current node and its
neighbours highlighted. A backward step shows the chain rule that gives the node's
gradient -- for every node that uses it, that node's gradient times the local
derivative -- and the local derivatives it passes on to its own inputs.

Everything is inline (style, script, the SVG, the steps as JSON): the file needs no
network and holds no URL, so it works offline, from ``file://`` and in a notebook.

DOM contract (for tests, and for people who script the page):

- buttons ``#next`` and ``#prev``, and the arrow keys, move one step;
- ``#step`` reads ``k / N`` (``0 / N`` before the first step);
- every graph node is one element with ``data-node`` (its label); once the backward
  pass has reached it, it has ``data-grad``: its gradient as a number string that
  parses to exactly the engine's float (``repr``: ``-1.5``, ``inf``, ``nan``);
  stepping back before that point removes it again.

    >>> from microinit import Value, trace
    >>> x = Value(2.0, label="x"); y = x * x; y.label = "y"
    >>> page = trace_page(trace(y))
    >>> page.startswith("<!doctype html>"), 'id="next"' in page, "http" in page
    (True, True, False)
"""
from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any, Mapping

from microinit.viz.graph import Graph, fmt
from microinit.viz.svg import DIGITS, layout_of, render

if TYPE_CHECKING:  # annotations only: steps.py imports this module when a page is asked for
    from microinit.viz.steps import Contribution, Step, Trace

#: one step of the page, as the script reads it (JSON)
PageStep = dict[str, Any]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.2rem; color: #222;
       background: #fff; }
h1 { font-size: 1.25rem; margin: 0 0 .3rem; }
.intro { margin: 0 0 .8rem; color: #444; max-width: 60rem; }
.controls { display: flex; gap: .6rem; align-items: center; margin: .6rem 0; }
.controls button { font-size: 1rem; padding: .3rem .9rem; border: 1px solid #889; border-radius: 4px;
                   background: #f4f4f8; cursor: pointer; }
.controls button:disabled { opacity: .4; cursor: default; }
#step { font-family: monospace; font-size: 1.05rem; min-width: 5.5rem; text-align: center; }
#phase { font-weight: bold; padding: .15rem .5rem; border-radius: 3px; }
#phase.forward { background: #e3edf7; color: #1f4e79; }
#phase.backward { background: #f7e3e3; color: #a33; }
#graph { overflow-x: auto; border: 1px solid #ddd; border-radius: 4px; }
#explain { margin-top: .8rem; padding: .6rem .9rem; border-left: 4px solid #e67e22; background: #fffaf3;
           min-height: 6rem; }
#explain h2 { font-size: 1.05rem; margin: 0 0 .4rem; }
#explain ul { margin: 0; padding-left: 1.2rem; font-family: "DejaVu Sans Mono", Menlo, monospace;
              font-size: .9rem; line-height: 1.5; }
.mi-graph .node { transition: opacity .15s; }
.mi-graph .node.pending { opacity: .45; }
.mi-graph .node.current rect { stroke: #e67e22; stroke-width: 3; fill: #fff4e0; }
.mi-graph .node.related rect { stroke: #2980b9; stroke-width: 2.2; }
.mi-graph .node.graded rect { fill: #fdf1f1; }
.mi-graph .node.current.graded rect { fill: #ffe9cc; }
.mi-graph .edge.active { stroke: #e67e22; stroke-width: 2.6; }
"""

SCRIPT = """
(function () {
  "use strict";
  var steps = JSON.parse(document.getElementById("trace-steps").textContent);
  var total = steps.length, k = 0;
  var nodes = {}, all = document.querySelectorAll("#graph [data-node]");
  for (var i = 0; i < all.length; i++) { nodes[all[i].getAttribute("data-index")] = all[i]; }
  var edges = document.querySelectorAll("#graph path.edge");
  var next = document.getElementById("next"), prev = document.getElementById("prev");
  var stepEl = document.getElementById("step"), phase = document.getElementById("phase");
  var title = document.getElementById("step-title"), list = document.getElementById("step-lines");

  function show(node, part, text) {
    var t = node.querySelector("." + part + "-value");
    if (t) { t.textContent = text; }
  }

  function render() {
    var key, node, j, s;
    for (key in nodes) {
      node = nodes[key];
      node.removeAttribute("data-grad");
      node.classList.remove("current", "related", "graded");
      node.classList.add("pending");
      show(node, "data", "?");
      show(node, "grad", "?");
    }
    for (j = 0; j < k; j++) {           // replay steps 1..k: the state after step k
      s = steps[j];
      node = nodes[s.node];
      if (s.phase === "forward") {
        node.classList.remove("pending");
        show(node, "data", s.data);
      } else {
        node.setAttribute("data-grad", s.grad);
        node.classList.add("graded");
        show(node, "grad", s.gradText);
      }
    }
    for (j = 0; j < edges.length; j++) { edges[j].classList.remove("active"); }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (k === 0) {
      phase.textContent = "";
      phase.className = "";
      title.textContent = document.getElementById("explain").getAttribute("data-start");
    } else {
      s = steps[k - 1];
      phase.textContent = s.phase;
      phase.className = s.phase;
      title.textContent = s.title;
      nodes[s.node].classList.add("current");
      for (j = 0; j < s.related.length; j++) { nodes[s.related[j]].classList.add("related"); }
      for (j = 0; j < edges.length; j++) {
        var a = Number(edges[j].getAttribute("data-from")), b = Number(edges[j].getAttribute("data-to"));
        if ((a === s.node && s.related.indexOf(b) >= 0) || (b === s.node && s.related.indexOf(a) >= 0)) {
          edges[j].classList.add("active");
        }
      }
      for (j = 0; j < s.lines.length; j++) {
        var li = document.createElement("li");
        li.textContent = s.lines[j];
        list.appendChild(li);
      }
    }
    stepEl.textContent = k + " / " + total;
    prev.disabled = k === 0;
    next.disabled = k === total;
  }

  next.addEventListener("click", function () { if (k < total) { k += 1; render(); } });
  prev.addEventListener("click", function () { if (k > 0) { k -= 1; render(); } });
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") { next.click(); } else if (e.key === "ArrowLeft") { prev.click(); }
  });
  render();
}());
"""

# the names in an op's formula and in its local derivatives: inputs a, b, constant c, output y
_SYMBOL = re.compile(r"\b[abcy]\b")
_PLAIN = re.compile(r"[\w#.]+")


def _substitute(formula: str, names: Mapping[str, str]) -> str:
    """``formula`` with each of a, b, c, y replaced by ``names[...]`` (text), in parentheses
    unless it is a plain name or number: ``1 - y**2`` -> ``1 - o**2``, ``a * b`` -> ``2 * (-3)``."""
    def name(m: re.Match[str]) -> str:
        text = names.get(m.group(0))
        if text is None:
            return m.group(0)
        return text if _PLAIN.fullmatch(text) else f"({text})"
    return _SYMBOL.sub(name, formula)


def _step_names(step: Step) -> dict[str, str]:
    """The names of a backward step's formula symbols: its inputs' labels, constant, label."""
    names = {c.name: c.label for c in step.inputs}
    names["y"] = step.label
    constant = getattr(step.node, "constant", None)
    if constant is not None:
        names["c"] = fmt(constant)
    return names


def _wrt(step: Step, c: Contribution) -> str:
    """'d o/d n', with the input's name added where one node is both inputs (x * x)."""
    twice = len(step.inputs) == 2 and step.inputs[0].slot == step.inputs[1].slot
    return f"d {step.label}/d {c.label}" + (f" (as {c.name})" if twice else "")


def _local(step: Step, c: Contribution) -> str:
    """A local derivative as 'formula = number' (the formula in the graph's names), or just
    the number when the two read the same."""
    number = fmt(c.local)
    formula = _substitute(c.formula, _step_names(step))
    return number if formula in ("", number) else f"{formula} = {number}"


def forward_steps(graph: Graph) -> list[PageStep]:
    """One step per node in topological order: how its value is computed."""
    out: list[PageStep] = []
    n = len(graph.nodes)
    for k, node in enumerate(graph.nodes):
        head = f"forward {k + 1} of {n}: "
        if node.op == "leaf":
            title = head + f"{node.label} is an input (a leaf)"
            lines = [f"{node.label} = {fmt(node.data)}, given: nothing to compute"]
        else:
            ins = [graph.nodes[i] for i in node.inputs]
            labels = {name: i.label for name, i in zip("ab", ins)}
            numbers = {name: fmt(i.data) for name, i in zip("ab", ins)}
            title = head + f"{node.label} = {_substitute(node.op, labels)}"
            lines = [f"{i.label} = {fmt(i.data)}" for i in ins[: 1 if len(set(node.inputs)) == 1 else 2]]
            lines.append(f"{node.label} = {_substitute(node.op, numbers)} = {fmt(node.data)}")
        out.append({"phase": "forward", "node": node.index, "title": title, "lines": lines,
                    "related": list(node.inputs), "data": fmt(node.data, DIGITS)})
    return out


def backward_steps(trace: Trace) -> list[PageStep]:
    """One step per node from the output back: the chain rule that gives its gradient."""
    received: dict[int, list[tuple[Step, Contribution]]] = {}  # slot -> users, filled as we go
    out: list[PageStep] = []
    n = len(trace.steps)
    for s in trace.steps:
        head = f"backward {s.index + 1} of {n}: "
        title = head + f"d out/d {s.label} = {fmt(s.upstream)}"
        users = received.get(s.slot, [])
        if not users:
            lines = [f"{s.label} is the output: d out/d {s.label} = 1"]
        else:
            lines = [f"chain rule: d out/d {s.label} = sum over the users u of {s.label} of "
                     f"d out/d u * d u/d {s.label}"]
            for u, c in users:
                op = _substitute(u.op, _step_names(u))
                lines.append(f"via {u.label} = {op}: {_wrt(u, c)} = {_local(u, c)}; "
                             f"{fmt(u.upstream)} * {fmt(c.local)} = {fmt(c.amount)}")
            if len(users) > 1:
                lines.append(f"d out/d {s.label} = " + " + ".join(fmt(c.amount) for _, c in users)
                             + f" = {fmt(s.upstream)}")
            else:
                lines.append(f"d out/d {s.label} = {fmt(s.upstream)}")
        if s.inputs:
            lines.append(f"{s.label} = {_substitute(s.op, _step_names(s))} passes its gradient on "
                         "(local derivative * d out/d " + s.label + "):")
            for c in s.inputs:
                lines.append(f"  {_wrt(s, c)} = {_local(s, c)}, so {c.label} gets "
                             f"{fmt(c.local)} * {fmt(s.upstream)} = {fmt(c.amount)}")
                received.setdefault(c.slot, []).append((s, c))
        else:
            lines.append(f"{s.label} is a leaf: its gradient is complete")
        related = sorted({u.slot for u, _ in users} | {c.slot for c in s.inputs})
        out.append({"phase": "backward", "node": s.slot, "title": title, "lines": lines,
                    "related": related, "grad": repr(float(s.upstream)),
                    "gradText": fmt(s.upstream, DIGITS)})
    return out


def _json_for_script(data: object) -> str:
    # inside <script>, "</script>" (or "<!--") in a label must not end the element
    text = json.dumps(data, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def trace_page(trace: Trace, title: str = "microinit trace") -> str:
    """The whole page for ``trace`` (a ``microinit.viz.steps.Trace``) as a string."""
    graph = trace.graph
    if graph is None:
        raise ValueError("trace_page: this Trace has no graph (make it with microinit.trace(value))")
    steps = forward_steps(graph) + backward_steps(trace)
    n = len(graph.nodes)
    out = trace.steps[0] if trace.steps else None
    about = (f"{out.label} = {fmt(out.data)}" if out else "")
    start = (f"Press next (or the right arrow key): {n} forward steps compute each node from its inputs, "
             f"then {n} backward steps give each node's gradient d out/d node by the chain rule.")
    svg = render(graph, layout_of(graph), standalone=False)
    e = html.escape
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{e(title)}</h1>
<p class="intro">Backpropagation of <b>{e(about)}</b>, one node at a time. Orange: the node of this step;
blue: the nodes it reads from or passes gradient to. <i>data</i> appears as the forward pass computes it,
<i>grad</i> (d out/d node) as the backward pass completes it.</p>
<div class="controls">
<button id="prev" type="button">&#9664; prev</button>
<span id="step">0 / {len(steps)}</span>
<button id="next" type="button">next &#9654;</button>
<span id="phase"></span>
</div>
<section id="graph">
{svg}</section>
<section id="explain" data-start="{e(start)}">
<h2 id="step-title">{e(start)}</h2>
<ul id="step-lines"></ul>
</section>
<script type="application/json" id="trace-steps">{_json_for_script(steps)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""


def notebook_frame(trace: Trace) -> str:
    """The page inside a sandboxed ``<iframe srcdoc>`` for Jupyter: its script and ids stay
    apart from the notebook's, and it still needs no file or network."""
    height = layout_of(trace.graph).height + 330  # type: ignore[arg-type]  # (a Trace of trace() has one)
    return (f'<iframe srcdoc="{html.escape(trace_page(trace), quote=True)}" sandbox="allow-scripts" '
            f'style="width: 100%; height: {height:.0f}px; border: 0"></iframe>')
