"""The `microinit trace` command (was tests/test_trace.py)."""
import argparse
import io
import shutil
import subprocess
import sys

from microinit.viz import command as tr


def _args(expr, *var, dot=None, step=False):
    p = argparse.ArgumentParser()
    tr.add_arguments(p)
    argv = [expr] + [f"--var={v}" for v in var] + (["--dot", dot] if dot else []) + (["--step"] if step else [])
    return p.parse_args(argv)


def test_run_prints_the_table_and_gradients(tmp_path):
    out = io.StringIO()
    dot = tmp_path / "g.dot"
    rc = tr.run(_args("tanh(x1*w1 + x2*w2 + b)", "x1=2", "x2=0", "w1=-3", "w2=1",
                      "b=6.8813735870195432", dot=str(dot)), out=out)
    text = out.getvalue()
    assert rc == 0
    assert "= 0.707107" in text and "d out/d w1 = 1" in text and "d out/d x1 = -1.5" in text
    assert dot.read_text().startswith("digraph")


def test_run_step_mode_waits_between_steps():
    out = io.StringIO()
    waits = []
    assert tr.run(_args("x * y + x", "x=3", "y=4", step=True), out=out, wait=waits.append) == 0
    assert len(waits) == 3                 # 4 steps (x*y + x, x*y, y, x), a wait between each
    assert "local derivative" in out.getvalue()


def test_run_bad_input_exit_code(capsys):
    assert tr.run(_args("x + ", "x=1")) == 2
    assert "invalid syntax" in capsys.readouterr().err
    assert tr.run(_args("x", "x=abc")) == 2
    assert "not a number" in capsys.readouterr().err
    assert tr.run(_args("x", "1x=2")) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_run_unwritable_dot_file(tmp_path, capsys):
    assert tr.run(_args("x * 2", "x=1", dot=str(tmp_path / "missing" / "g.dot"))) == 1
    assert "cannot write" in capsys.readouterr().err


def test_command_line_subprocess():
    proc = subprocess.run([sys.executable, "-m", "microinit", "trace", "relu(x*w) + 1",
                           "--var", "x=2", "--var", "w=-0.5"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "d out/d x = 0" in proc.stdout and "ReLU" not in proc.stdout
    assert "relu(a)" in proc.stdout


def test_run_svg_without_graphviz_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    target = tmp_path / "g.svg"
    assert tr.run(_args("x * 2", "x=1", dot=str(target))) == 1
    assert "`dot` program was not found" in capsys.readouterr().err
    assert not target.exists()


def test_run_writes_the_step_through_page(tmp_path, capsys):
    p = argparse.ArgumentParser()
    tr.add_arguments(p)
    page = tmp_path / "t.html"
    out = io.StringIO()
    assert tr.run(p.parse_args(["x * y + x", "--var", "x=3", "--var", "y=4", "--html", str(page)]), out=out) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and "<title>microinit trace: x * y + x</title>" in text
    assert text.count("data-node=") == 4 and f"step-through page written to {page}" in out.getvalue()
    missing = tmp_path / "missing" / "t.html"
    assert tr.run(p.parse_args(["x", "--var", "x=1", "--html", str(missing)])) == 1
    assert "cannot write" in capsys.readouterr().err and not missing.exists()
