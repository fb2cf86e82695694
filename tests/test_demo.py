import doctest
import importlib
import math
import re
import sys

import pytest

from microinit import cli, demo

SMALL = ["--epochs", "3", "--samples", "240", "--width", "16", "--depth", "2"]


def _run(capsys, *argv):
    code = cli.main(["demo", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _table(out):
    """initializer -> (loss@1, final, train, test) from the printed table."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+([\d.]+|nan)\s+([\d.]+|nan)\s+([\d.]+|nan)%\s+([\d.]+|nan)%\s+[\d.]+$", line)
        if m:
            rows[m.group(1)] = tuple(float(v) for v in m.groups()[1:])
    return rows


def test_parse_init():
    assert demo.parse_init("he_normal") == "he_normal"
    assert demo.parse_init("normal(std=0.01)") == {"name": "normal", "std": 0.01}
    assert demo.parse_init(" uniform(low=-1, high=2.5) ") == {"name": "uniform", "low": -1.0, "high": 2.5}
    assert demo.parse_init("variance_scaling(mode=fan_out)") == {"name": "variance_scaling", "mode": "fan_out"}
    with pytest.raises(ValueError, match="key=value"):
        demo.parse_init("normal(0.01)")


def test_small_demo_prints_all_five_rows_and_a_reading(capsys):
    code, out, _ = _run(capsys, *SMALL)
    assert code == 0
    rows = _table(out)
    assert list(rows) == ["zeros", "normal(std=0.01)", "normal(std=1.0)", "xavier_uniform", "he_normal"]
    assert re.search(r"^initializer +loss@epoch1  final loss  train acc  test acc  seconds$", out, re.M)
    reading = next(line for line in out.splitlines() if line.startswith("Reading: "))
    assert "zeros: all hidden units stay identical, stuck at chance" in reading
    assert "best: " in reading
    assert rows["zeros"][0] == pytest.approx(math.log(3), abs=0.01)


def test_demo_is_reproducible_with_a_seed(capsys):
    def numbers(out):
        return {k: v for k, v in _table(out).items()}

    a = numbers(_run(capsys, *SMALL, "--seed", "4", "--init", "he_normal,zeros")[1])
    b = numbers(_run(capsys, *SMALL, "--seed", "4", "--init", "he_normal", "--init", "zeros")[1])
    c = numbers(_run(capsys, *SMALL, "--seed", "5", "--init", "he_normal,zeros")[1])
    assert a == b and list(a) == ["he_normal", "zeros"]
    assert a["he_normal"] != c["he_normal"]


def test_default_demo_reaches_97_percent_with_he_and_xavier(capsys):
    # the full default configuration (depth 3, width 64, 30 epochs), two of its five runs
    code, out, _ = _run(capsys, "--init", "xavier_uniform,he_normal")
    rows = _table(out)
    assert "seeds 0-4 (medians of 5 runs per initializer)" in out
    assert code == 0
    assert rows["he_normal"][3] >= 97.0 and rows["xavier_uniform"][3] >= 97.0
    assert rows["he_normal"][1] < 0.1
    assert _verdict_words(out) == DEFAULT_VERDICTS


def test_unknown_initializer_exits_2_with_suggestion(capsys):
    code, out, err = _run(capsys, "--init", "xavier_unifrom")
    assert code == 2 and "did you mean 'xavier_uniform'" in err and out == ""


def test_bad_sizes_exit_2(capsys):
    code, _, err = _run(capsys, "--epochs", "0")
    assert code == 2 and "--epochs must be positive" in err


def test_plot_without_matplotlib_says_how_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    code, out, err = _run(capsys, *SMALL, "--plot", str(tmp_path / "x.png"))
    assert code == 2 and 'pip install -e ".[plot]"' in err and out == ""
    assert not (tmp_path / "x.png").exists()


def test_plot_into_a_missing_folder_fails_before_training(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, err = _run(capsys, *SMALL, "--plot", str(tmp_path / "no" / "x.png"))
    assert code == 2 and "does not exist" in err and out == ""


def test_plot_writes_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    code, out, _ = _run(capsys, *SMALL, "--init", "he_normal,zeros", "--plot", str(path))
    assert code == 0 and f"wrote {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reading_is_derived_from_the_numbers():
    base = dict(error=None, loss=[1.0], seconds=0.1, model=None, identical=False)
    results = [
        dict(base, label="tiny", first=math.log(3), final=1.0, train_acc=0.95, test_acc=0.94),
        dict(base, label="big", first=30.0, final=0.9, train_acc=0.5, test_acc=0.5, dead=150, hidden=192),
        dict(base, label="good", first=1.0, final=0.01, train_acc=1.0, test_acc=0.99),
        dict(base, label="boom", error="nan", first=float("nan"), final=float("nan"),
             train_acc=float("nan"), test_acc=float("nan")),
    ]
    text = demo.reading(results)
    assert "tiny: slow start (epoch-1 loss = ln 3), then 94%" in text
    assert "big: exploding start (epoch-1 loss 30.0), 150 of 192 hidden ReLUs dead, ends at 50%" in text
    assert "boom diverged" in text
    assert "best: good (99.0% test, tiny 94.0%; ahead in 1 of 1 seeds)" in text
    assert text.endswith("lowest training loss: good (0.0100 vs 0.9000 for big; lower in 1 of 1 seeds).")


def _seeded(label, accs, finals):
    runs = [dict(error=None, first=1.0, final=f, train_acc=a, test_acc=a, seconds=0.1, identical=False, dead=0,
                 hidden=192, loss=[1.0], model=None) for a, f in zip(accs, finals)]
    return demo.aggregate(label, runs)


def test_a_winner_needs_a_robust_margin_over_the_seeds():
    # half a point apart at the median: no winner, whichever seed flips
    close = [_seeded("a", [0.995, 0.992, 0.990, 0.995, 0.992], [0.010] * 5),
             _seeded("b", [0.992, 0.995, 0.992, 0.990, 0.995], [0.011] * 5)]
    text = demo.reading(close)
    assert "best test accuracy: no clear winner: " in text and "per seed 99.5/99.2/99.0/99.5/99.2" in text
    assert "lowest training loss: no clear winner: a 0.0100, b 0.0110 (lower in 5 of 5 seeds)" in text
    # a clear margin survives one seed going the other way (a CPU's last bits can flip one run)
    clear = [_seeded("a", [0.99, 0.98, 0.99, 0.97, 0.99], [0.005, 0.006, 0.030, 0.005, 0.004]),
             _seeded("b", [0.95, 0.99, 0.94, 0.95, 0.96], [0.010, 0.012, 0.011, 0.013, 0.009])]
    text = demo.reading(clear)
    assert "best: a (99.0% test, b 95.0%; ahead in 4 of 5 seeds)" in text
    assert "lowest training loss: a (0.0050 vs 0.0110 for b; lower in 4 of 5 seeds)" in text
    # but not two: 3 of 5 is no robust win, whatever the medians say
    flipped = [_seeded("a", [0.99, 0.98, 0.99, 0.97, 0.93], [0.005] * 5),
               _seeded("b", [0.95, 0.99, 0.94, 0.98, 0.96], [0.010] * 5)]
    assert "best test accuracy: no clear winner" in demo.reading(flipped)


def _verdict_words(out):
    # the verdicts without their numbers: what must not change from one seed set (or CPU) to another
    reading = next(line for line in out.splitlines() if line.startswith("Reading: "))
    parts = [p for p in reading[len("Reading: "):].split("; ") if "best" in p or "lowest" in p]
    return [re.sub(r"\(.*", "", re.sub(r"[\d.]+%?", "#", p)).strip() for p in parts]


DEFAULT_VERDICTS = ["best test accuracy: no clear winner: xavier_uniform #, he_normal #",
                    "lowest training loss: he_normal"]


def test_default_demo_verdicts_hold_for_another_set_of_seeds(capsys):
    # the default configuration and the two initializers the verdicts are about, on seeds
    # 5-9 instead of 0-4 (test_default_demo_reaches_97_percent_with_he_and_xavier checks 0-4)
    assert _verdict_words(_run(capsys, "--init", "xavier_uniform,he_normal", "--seed", "5")[1]) == DEFAULT_VERDICTS


def test_docstring_examples_pass():
    result = doctest.testmod(importlib.import_module("microinit.demo"), verbose=False, report=False)
    assert result.failed == 0 and result.attempted > 0
