"""``microinit initlab --html report.html``: the whole init lab as one self-contained HTML file.

The report runs every experiment (``symmetry``, ``depth``, ``deep-relu``, ``lsuv``,
``edge-of-chaos``) and puts each table and figure in the page (figures as embedded
base64 PNG, drawn with matplotlib when it is installed), followed by the init explorer:
a precomputed grid of per-layer statistics (``microinit.lab.explorer``) embedded as
JSON, with selects for initializer x activation x depth and one button per claim. Style
and script are inline (``microinit.lab.report_page``): the file needs no network and
names no external URL.

>>> from microinit.diagnostics import Table
>>> page = table_html(Table(["init", "std"], [{"init": "he", "std": 0.5}]))
>>> page.count("<tr>"), '<td class="text">he</td><td>0.5</td>' in page
(2, True)
"""
import base64
import html
import io
import json
import time

from microinit.diagnostics import format_value, require_matplotlib
from microinit.lab.chaos import edge_of_chaos
from microinit.lab.experiments import deep_relu, depth, lsuv, symmetry
from microinit.lab.explorer import explorer_grid
from microinit.lab.report_page import SCRIPT, STYLE

__all__ = ["build_report", "write_report", "table_html", "figure_html", "report_experiments"]


def report_experiments(quick=False, seed=0):
    """``[(name, what it shows, runner), ...]``: the experiments of the report, at their
    command-line defaults, or (``quick=True``) small enough for a test."""
    if quick:
        return [
            ("symmetry", "zeros/constant init leave every hidden unit a clone",
             lambda: symmetry(inits=["zeros", "xavier_uniform"], width=8, n=200, epochs=5, seed=seed)),
            ("depth", "activation and gradient std per layer under each initializer",
             lambda: depth(depth=10, width=32, batch=64, seed=seed)),
            ("deep-relu", "a deep ReLU MLP trained with Xavier and with He",
             lambda: deep_relu(depth=10, width=16, n=200, epochs=3, seed=seed, seeds=1)),
            ("lsuv", "LSUV vs He vs orthogonal", lambda: lsuv(depth=5, width=16, n=300, epochs=2, seed=seed)),
            ("edge-of-chaos", "mean-field theory beside the measurement",
             lambda: edge_of_chaos(sigma_w2s=(1.0, 3.0), sigma_b2s=(0.05,), depth=20, width=32, seeds=1,
                                   seed=seed, train_points=())),
        ]
    return [
        ("symmetry", "zeros/constant init leave every hidden unit a clone", lambda: symmetry(seed=seed)),
        ("depth", "activation and gradient std per layer under each initializer", lambda: depth(seed=seed)),
        ("deep-relu", "a 30-layer ReLU MLP trained with Xavier and with He", lambda: deep_relu(seed=seed)),
        ("lsuv", "LSUV vs He vs orthogonal", lambda: lsuv(seed=seed)),
        ("edge-of-chaos", "mean-field theory beside the measurement", lambda: edge_of_chaos(seed=seed)),
    ]


def _cell(table, column, value):
    text = table.formats.get(column, format_value)(value)
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f'<td>{html.escape(text)}</td>' if numeric else f'<td class="text">{html.escape(text)}</td>'


def table_html(table):
    """A ``diagnostics.Table`` as an HTML table (its own formats), then its notes and its
    further sections."""
    out = ['<table class="result">']
    if table.title:
        out.append(f"<caption>{html.escape(table.title)}</caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns) + "</tr>")
    for row in table.rows:
        out.append("<tr>" + "".join(_cell(table, c, row[c]) for c in table.columns) + "</tr>")
    out.append("</table>")
    out.extend(f'<p class="note">{html.escape(n)}</p>' for n in table.notes)
    out.extend(table_html(s) for s in table.sections)
    return "".join(out)


def figure_html(table, alt):
    """The table's figure as an ``<img>`` with an embedded base64 PNG, or a note saying
    why there is none (matplotlib missing)."""
    try:
        require_matplotlib()
    except ImportError as err:
        return f'<p class="note">No figure: {html.escape(str(err))}</p>'
    fig = table.plot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="figure" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


_EXPLORER = """
<h2 id="explorer-title">The init explorer</h2>
<p>Per-layer statistics of an MLP of {width}-unit layers at initialization, one forward and backward pass of a
Gaussian batch of {batch} (medians over seeds {seeds}). Pick an initializer, an activation and a depth, or
click a claim.</p>
<div id="explorer">
  <div id="claims"></div>
  <p id="claim-text"></p>
  <label>initializer <select id="init"></select></label>
  <label>activation <select id="activation"></select></label>
  <label>depth <select id="depth"></select></label>
  <div id="verdict"></div>
  <div class="panels">
    <svg id="chart" width="520" height="240" role="img" aria-label="std per layer"></svg>
    <div id="layer-table"><table class="result"><thead><tr><th>layer</th><th>mean</th><th>std</th>
      <th>grad std</th><th>dead</th><th>saturated</th><th>distinct units</th></tr></thead>
      <tbody id="layers"></tbody></table></div>
  </div>
  <p><label>histograms of layer <select id="layer"></select></label></p>
  <div class="panels">
    <svg id="hist-act" width="330" height="200" role="img" aria-label="activation histogram"></svg>
    <svg id="hist-grad" width="330" height="200" role="img" aria-label="gradient histogram"></svg>
  </div>
</div>
"""


def build_report(quick=False, seed=0, log=None):
    """The report's HTML text (runs every experiment and computes the explorer's grid).
    ``log(message)`` is called as each part starts (e.g. ``print``)."""
    log = log or (lambda message: None)
    parts = []
    toc = []
    for name, what, run in report_experiments(quick, seed):
        log(f"running {name} ...")
        t0 = time.perf_counter()
        table = run()
        anchor = f"exp-{name}"
        toc.append(f'<li><a href="#{anchor}">{html.escape(name)}</a>: {html.escape(what)}</li>')
        parts.append(f'<section class="experiment" id="{anchor}"><h2>{html.escape(name)}</h2>'
                     f'<p class="note">microinit initlab {html.escape(name)} --seed {seed} '
                     f'({time.perf_counter() - t0:.1f} s)</p>{table_html(table)}{figure_html(table, name)}</section>')
    log("computing the explorer grid ...")
    grid = (explorer_grid(depths=(10, 20, 40), width=48, batch=64, seeds=1, seed=seed) if quick
            else explorer_grid(seed=seed))
    # "</" inside a script element would end it: JSON allows the escaped form "<\/".
    grid_json = json.dumps(grid, separators=(",", ":")).replace("</", "<\\/")
    seeds = ", ".join(str(s) for s in grid["seeds"])
    explorer = _EXPLORER.format(width=grid["width"], batch=grid["batch"], seeds=seeds)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>microinit init lab report</title>"
            f"<style>{STYLE}</style></head><body>"
            "<h1>microinit init lab</h1>"
            f"<p>Every experiment of <code>microinit initlab</code> at seed {seed}"
            f"{' (quick settings)' if quick else ''}, then the <a href=\"#explorer-title\">init explorer</a>. "
            "Tables and readings are computed from the measurements; verdicts about training need 80% of "
            "the seeds to agree.</p>"
            f"<ul>{''.join(toc)}<li><a href=\"#explorer-title\">the init explorer</a></li></ul>"
            + "".join(parts) + explorer +
            f'<script id="grid-data" type="application/json">{grid_json}</script>'
            f"<script>{SCRIPT}</script></body></html>\n")


def write_report(path, quick=False, seed=0, log=None):
    """Write ``build_report(...)`` to ``path`` (UTF-8); returns the path."""
    text = build_report(quick=quick, seed=seed, log=log)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
