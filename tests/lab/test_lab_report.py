"""``microinit initlab --html``: one self-contained report, and its init explorer clicked
through in headless Chromium (tests/browser.py; skipped cleanly without a browser)."""
import html
import json
import re

import pytest

import browser
from microinit import cli
from microinit.lab.explorer import CLAIMS, cell_key

browser_page = browser.browser_page
pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert cli.main(["initlab", "--html", str(path), "--quick"]) == 0
    return path


def _grid(text):
    m = re.search(r'<script id="grid-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def test_report_holds_every_experiment_and_no_external_url(report):
    text = report.read_text(encoding="utf-8")
    for name in ("symmetry", "depth", "deep-relu", "lsuv", "edge-of-chaos"):
        assert f'id="exp-{name}"' in text
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # (a user's machine without the plot extra: the report says how to get it)
        assert text.count('src="data:image/png;base64,') == 0 and "pip install 'microinit[plot]'" in html.unescape(text)
    else:
        assert text.count('src="data:image/png;base64,') == 5
    # nothing the page could fetch: no http(s) URL, no src/href but data: and in-page anchors
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)
    assert not re.search(r'(?:src|href)="(?!data:|#)', text)
    grid = _grid(text)
    assert grid["depths"] == [10, 20, 40] and len(grid["cells"]) == 7 * 4 * 3
    assert [c["id"] for c in grid["claims"]] == [c[0] for c in CLAIMS]


def test_the_embedded_grid_shows_each_claim(report):
    # what each claim button shows, read from the page's data (no browser needed)
    grid = _grid(report.read_text(encoding="utf-8"))
    claims = {c["id"]: grid["cells"][cell_key(c["init"], c["activation"], c["depth"])] for c in grid["claims"]}
    assert all(layer["distinct"] == 1 and layer["std"] == 0 for layer in claims["zeros"]["layers"])
    assert "vanish" in claims["small"]["reading"] and claims["small"]["layers"][-1]["std"] < 1e-10
    assert "activations explode" in claims["large"]["reading"] and claims["large"]["layers"][-1]["std"] > 1e6
    for claim in ("xavier-tanh", "he-relu", "lecun-selu"):
        assert claims[claim]["reading"].startswith("activations steady"), claim
        assert all(0.05 < layer["std"] < 20 for layer in claims[claim]["layers"]), claim
    # He keeps ReLU's signal where Xavier loses half of it per layer
    assert grid["cells"][cell_key("xavier_uniform", "relu", 40)]["layers"][-1]["std"] < 1e-3
    # sigmoid: gain 4 keeps 100x more of the gradient than plain Xavier over 10 layers
    def grad_kept(init):
        layers = grid["cells"][cell_key(init, "sigmoid", 10)]["layers"]
        return layers[0]["grad_std"] / layers[-1]["grad_std"]
    assert grad_kept("xavier_uniform(gain=4)") > 100 * grad_kept("xavier_uniform")


def test_html_into_a_missing_folder_fails_before_running(capsys, tmp_path):
    assert cli.main(["initlab", "--html", str(tmp_path / "no" / "r.html")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "running" not in err


def test_html_refuses_an_experiment_name(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["initlab", "--html", str(tmp_path / "r.html"), "depth"])
    assert exit_.value.code == 2 and "without an experiment name" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(SystemExit) as exit_:
        cli.main(["initlab"])
    assert exit_.value.code == 2 and "or give --html FILE" in capsys.readouterr().err


def _shown(page):
    rows = page.query_selector_all("#layers tr")
    return [{k: r.get_attribute(f"data-{k}") for k in ("layer", "std", "grad-std", "distinct")} for r in rows]


def _same(shown, cell):
    assert len(shown) == len(cell["layers"])
    for s, g in zip(shown, cell["layers"]):
        assert int(s["layer"]) == g["layer"]
        for attr, key in (("std", "std"), ("grad-std", "grad_std"), ("distinct", "distinct")):
            assert (s[attr] == "") if g[key] is None else (float(s[attr]) == g[key]), (attr, s, g)


def test_explorer_shows_the_grid_and_the_claims(browser_page, report):
    page = browser_page
    page.goto(report.as_uri())
    grid = _grid(report.read_text(encoding="utf-8"))
    # any choice of the three selects shows exactly the embedded grid's numbers
    for init, act, depth in [("he_normal", "relu", "40"), ("normal(std=0.01)", "tanh", "20"),
                             ("normal(std=1.0)", "sigmoid", "10"), ("lecun_normal", "selu", "40")]:
        page.select_option("#init", init)
        page.select_option("#activation", act)
        page.select_option("#depth", depth)
        key = cell_key(init, act, depth)
        assert page.get_attribute("#verdict", "data-key") == key
        assert page.inner_text("#verdict") == grid["cells"][key]["reading"]
        _same(_shown(page), grid["cells"][key])
        assert page.locator("#chart polyline").count() == 2
    # each claim, one click
    page.click("#claim-he-relu")
    rows = _shown(page)
    assert len(rows) == 40 and 0.1 < float(rows[-1]["std"]) < 10      # He + ReLU: O(1) over 40 layers
    assert "activations steady" in page.inner_text("#verdict")
    page.click("#claim-small")
    assert page.input_value("#init") == "normal(std=0.01)"
    assert "activations vanish, gradients vanish" in page.inner_text("#verdict")
    assert float(_shown(page)[-1]["std"]) < 1e-10
    page.click("#claim-zeros")
    assert all(r["distinct"] == "1" for r in _shown(page))
    assert "identical" in page.inner_text("#verdict")
    page.click("#claim-large")
    assert "explode" in page.inner_text("#verdict")
    page.click("#claim-lecun-selu")
    assert "activations steady, gradients steady" in page.inner_text("#verdict")
    assert "Klambauer" in page.inner_text("#claim-text")
    # histograms of the chosen layer
    page.select_option("#layer", "1")
    assert page.text_content("#hist-act text") == "activations of layer 1"
    counts = [int(r.get_attribute("data-count")) for r in page.query_selector_all("#hist-act rect")]
    assert counts == grid["cells"][cell_key("lecun_normal", "selu", 40)]["layers"][0]["hist"]["counts"]
    browser.assert_clean(page)
