"""`microinit initlab`: the lab's command line (``microinit.lab.cli``)."""
import sys

import pytest

from microinit import cli, lab

# Tiny networks: threads only add contention on a shared machine.
pytestmark = pytest.mark.usefixtures("single_thread")


def test_cli_runs_an_experiment_and_writes_the_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "custom.png"
    code = cli.main(["initlab", "custom", "--init", "he_normal", "normal(std=0.01)", "--depth", "4",
                     "--width", "8", "--batch", "16", "--seed", "1", "--plot", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "he_normal" in text and "normal(std=0.01)" in text and "figure written to" in text
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_without_matplotlib_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code = cli.main(["initlab", "custom", "--init", "he_normal", "--depth", "2", "--width", "4",
                     "--plot", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 1 and "microinit[plot]" in err
    assert not (tmp_path / "x.png").exists()


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        cli.main(["initlab", "custom", "--init", "xavier_unifrom"])
    assert "did you mean" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["initlab", "depth", "--depth", "0"])
    with pytest.raises(SystemExit):
        cli.main(["initlab"])


def test_cli_checks_the_figure_directory_before_running(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    ran = []
    monkeypatch.setitem(lab.EXPERIMENTS, "custom", lambda **kw: ran.append(kw))
    code = cli.main(["initlab", "custom", "--init", "he_normal", "--plot", str(tmp_path / "no" / "x.png")])
    assert code == 1 and ran == []
    assert "does not exist" in capsys.readouterr().err


def test_cli_edge_of_chaos_takes_its_grid(capsys):
    code = cli.main(["initlab", "edge-of-chaos", "--sigma-w2", "1.0", "3.0", "--sigma-b2", "0.05", "--depth", "12",
                     "--width", "16", "--seeds", "1", "--no-train"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("edge-of-chaos: tanh, 12 layers x 16 units")
    assert " ordered " in out and " chaotic " in out and "trainability" not in out
    with pytest.raises(SystemExit):
        cli.main(["initlab", "edge-of-chaos", "--sigma-b2", "-0.1"])
    assert "expected a number >= 0" in capsys.readouterr().err
