"""The style and script of the init lab's HTML report (``microinit.lab.report``), inlined
into the page so that it is one self-contained file: no network, no external URL.

The script drives the init explorer. Its DOM contract, for tests and for people who
script the page: selects ``#init``, ``#activation``, ``#depth`` and ``#layer`` (the
layer whose histograms are drawn); ``#verdict`` (the reading, with ``data-key`` =
``init|activation|depth``); ``#layers`` (a table body with one ``tr`` per hidden layer,
attributes ``data-layer``, ``data-mean``, ``data-std``, ``data-grad-std``,
``data-dead``, ``data-saturated``, ``data-distinct``: the embedded grid's values, "" when
missing); ``#chart`` (per-layer std, SVG); ``#hist-act`` and ``#hist-grad``
(histograms, SVG); one ``button.claim`` per claim (``id="claim-<id>"``) that sets the
three selects and shows the claim in ``#claim-text``. The grid is the JSON in
``<script id="grid-data" type="application/json">``.
"""

__all__ = ["STYLE", "SCRIPT"]

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table.result { border-collapse: collapse; font: 12px ui-monospace, monospace; margin: .6em 0; }
table.result th, table.result td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
table.result th { background: #f3f3f3; } table.result td.text { text-align: left; }
p.note { font-size: 13px; color: #555; margin: .3em 0; }
img.figure { max-width: 100%; border: 1px solid #eee; }
#explorer { border: 1px solid #bbb; border-radius: 6px; padding: 1em; background: #fcfcfc; }
#explorer label { margin-right: 1em; }
#claims button { margin: .2em .3em .2em 0; padding: .3em .7em; border: 1px solid #88a; border-radius: 4px;
                 background: #eef; cursor: pointer; }
#claims button.active { background: #cce; font-weight: bold; }
#claim-text { min-height: 2.8em; font-style: italic; }
#verdict { font-weight: bold; font-size: 1.05em; margin: .6em 0; padding: .4em .6em; background: #fff6d5; }
.panels { display: flex; flex-wrap: wrap; gap: 1em; }
.panels svg { background: #fff; border: 1px solid #ddd; }
#layer-table { max-height: 320px; overflow-y: auto; display: inline-block; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var GRID = JSON.parse(document.getElementById("grid-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var $ = function (id) { return document.getElementById(id); };
  var COLS = [["layer", "layer"], ["mean", "mean"], ["std", "std"], ["grad_std", "grad std"],
              ["dead", "dead"], ["saturated", "saturated"], ["distinct", "distinct units"]];

  function fill(select, values) {
    values.forEach(function (v) {
      var o = document.createElement("option"); o.value = String(v); o.textContent = String(v);
      select.appendChild(o);
    });
  }
  function fmt(v) { return v === null || v === undefined ? "-" : Number(v).toPrecision(3); }
  function attr(v) { return v === null || v === undefined ? "" : String(v); }
  function key() { return $("init").value + "|" + $("activation").value + "|" + $("depth").value; }
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function text(parent, x, y, s, anchor) {
    var t = el("text", {x: x, y: y, "font-size": 11, "text-anchor": anchor || "start"}, parent);
    t.textContent = s; return t;
  }

  function drawChart(layers) {
    var svg = $("chart"); svg.innerHTML = "";
    var W = 520, H = 240, L = 56, R = 12, T = 22, B = 30;
    var series = [["std", "#1f77b4", "activation std"], ["grad_std", "#d62728", "gradient std (dL/da)"]];
    var logs = [];
    layers.forEach(function (r) { series.forEach(function (s) {
      var v = r[s[0]]; if (v !== null && v > 0) { logs.push(Math.log10(v)); } }); });
    if (!logs.length) {
      text(svg, W / 2, H / 2, "every value is 0 (or not finite): nothing to draw on a log scale", "middle");
      return;
    }
    var lo = Math.floor(Math.min.apply(null, logs)), hi = Math.ceil(Math.max.apply(null, logs));
    if (hi === lo) { hi = lo + 1; }
    var n = layers.length;
    var x = function (i) { return L + (n === 1 ? 0 : (i - 1) * (W - L - R) / (n - 1)); };
    var y = function (lg) { return T + (hi - lg) * (H - T - B) / (hi - lo); };
    var step = Math.max(1, Math.ceil((hi - lo) / 8));
    for (var e = lo; e <= hi; e += step) {
      el("line", {x1: L, x2: W - R, y1: y(e), y2: y(e), stroke: "#eee"}, svg);
      text(svg, L - 4, y(e) + 4, "1e" + e, "end");
    }
    text(svg, (L + W - R) / 2, H - 6, "layer", "middle");
    [1, n].forEach(function (i) { text(svg, x(i), H - B + 14, String(i), "middle"); });
    series.forEach(function (s, k) {
      var pts = [];
      layers.forEach(function (r) {
        var v = r[s[0]];
        if (v !== null && v > 0) { pts.push(x(r.layer) + "," + y(Math.log10(v))); }
      });
      el("polyline", {points: pts.join(" "), fill: "none", stroke: s[1], "stroke-width": 2,
                      "class": "series-" + s[0]}, svg);
      el("rect", {x: L + 8 + k * 170, y: 6, width: 12, height: 4, fill: s[1]}, svg);
      text(svg, L + 24 + k * 170, 12, s[2]);
    });
  }

  function drawHist(svgId, hist, title, color) {
    var svg = $(svgId); svg.innerHTML = "";
    var W = 330, H = 200, L = 10, R = 10, T = 20, B = 30;
    text(svg, W / 2, 13, title, "middle");
    if (!hist) { text(svg, W / 2, H / 2, "no values", "middle"); return; }
    var c = hist.counts, m = Math.max.apply(null, c) || 1, bw = (W - L - R) / c.length;
    c.forEach(function (v, i) {
      var h = v / m * (H - T - B);
      el("rect", {x: L + i * bw, y: H - B - h, width: Math.max(bw - 1, 1), height: h, fill: color,
                  "data-count": v}, svg);
    });
    text(svg, L, H - B + 14, fmt(hist.lo)); text(svg, W - R, H - B + 14, fmt(hist.hi), "end");
  }

  function drawLayer(cell) {
    var i = Number($("layer").value) - 1, r = cell.layers[i];
    drawHist("hist-act", r.hist, "activations of layer " + r.layer, "#1f77b4");
    drawHist("hist-grad", r.grad_hist, "gradients dL/da of layer " + r.layer, "#d62728");
  }

  function render() {
    var cell = GRID.cells[key()];
    $("verdict").textContent = cell.reading;
    $("verdict").setAttribute("data-key", key());
    var body = $("layers"); body.innerHTML = "";
    cell.layers.forEach(function (r) {
      var tr = document.createElement("tr");
      COLS.forEach(function (c) {
        tr.setAttribute("data-" + c[0].replace("_", "-"), attr(r[c[0]]));
        var td = document.createElement("td");
        td.textContent = c[0] === "layer" || c[0] === "distinct" ? attr(r[c[0]]) || "-" : fmt(r[c[0]]);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var layerSel = $("layer"), keep = layerSel.value; layerSel.innerHTML = "";
    fill(layerSel, cell.layers.map(function (r) { return r.layer; }));
    layerSel.value = keep && Number(keep) <= cell.layers.length ? keep : String(cell.layers.length);
    drawChart(cell.layers);
    drawLayer(cell);
  }

  function unmark() {
    Array.prototype.forEach.call(document.querySelectorAll("button.claim"), function (b) {
      b.classList.remove("active");
    });
  }

  fill($("init"), GRID.inits); fill($("activation"), GRID.activations); fill($("depth"), GRID.depths);
  ["init", "activation", "depth"].forEach(function (id) {
    $(id).addEventListener("change", function () {
      $("claim-text").textContent = "";
      unmark();
      render();
    });
  });
  $("layer").addEventListener("change", function () { drawLayer(GRID.cells[key()]); });
  GRID.claims.forEach(function (c) {
    var b = document.createElement("button");
    b.className = "claim"; b.id = "claim-" + c.id; b.textContent = c.title;
    b.setAttribute("data-init", c.init); b.setAttribute("data-activation", c.activation);
    b.setAttribute("data-depth", String(c.depth));
    b.addEventListener("click", function () {
      $("init").value = c.init; $("activation").value = c.activation; $("depth").value = String(c.depth);
      $("layer").value = "";
      render();
      unmark();
      b.classList.add("active");
      $("claim-text").textContent = c.text;
    });
    $("claims").appendChild(b);
  });
  var first = GRID.claims.length ? GRID.claims[0] : null;
  if (first) { document.getElementById("claim-" + first.id).click(); } else { render(); }
})();
"""
