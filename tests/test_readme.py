"""What the README shows reproduces: each example's output, as a user would run it.

Every ```python block that is followed by an output block is run in a fresh
interpreter, and every ``$ microinit ...`` block (timings excepted) is run as a
command; the output must match the README's text exactly and its numbers within a
margin that rounding differences between x86-64 machines (SIMD width, BLAS) stay
inside, but a wrong formula does not.
"""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
# Commands whose output is timings (never reproducible) are not compared.
TIMED = ("microinit bench",)


def _blocks():
    """(kind, source, expected output) for each runnable example of the README."""
    text = README.read_text()
    fences = re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)
    out = []
    for i, (lang, body) in enumerate(fences):
        if lang == "python" and i + 1 < len(fences) and fences[i + 1][0] == "":
            out.append(("python", body, fences[i + 1][1]))
        elif lang == "" and body.startswith("$ microinit") and not body.startswith(tuple("$ " + t for t in TIMED)):
            command, _, expected = body.partition("\n")
            out.append(("command", command[2:], expected))
    return out


def _same(got, want):
    """Equal text between the numbers; numbers equal within 0.5% or 1e-3."""
    g_text, w_text = NUMBER.split(got), NUMBER.split(want)
    assert [" ".join(t.split()) for t in g_text] == [" ".join(t.split()) for t in w_text], (got, want)
    for g, w in zip(NUMBER.findall(got), NUMBER.findall(want)):
        assert abs(float(g) - float(w)) <= max(5e-3 * abs(float(w)), 1e-3), (g, w, got)


def test_the_readme_has_examples_to_run():
    kinds = [k for k, _, _ in _blocks()]
    assert kinds.count("python") >= 3 and kinds.count("command") >= 2


@pytest.mark.parametrize("kind, source, expected", _blocks(), ids=lambda v: str(v)[:40])
def test_readme_example_output_reproduces(kind, source, expected, tmp_path):
    if kind == "python":
        args = [sys.executable, "-c", source]
    else:
        args = [sys.executable, "-m", "microinit", *shlex.split(source)[1:]]
    run = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    _same(run.stdout.strip(), expected.strip())
