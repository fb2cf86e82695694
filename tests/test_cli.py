"""`microinit <command>` dispatch, and `microinit bench` as a thin runner of the clone's
benchmarks/ folder."""
import doctest
import importlib

import pytest

from microinit import cli

BENCH_OPTIONS = ["--quick", "--sizes", "--threads", "--repeats", "--json", "--markdown", "--no-matmul",
                 "--no-memory", "--no-torch", "--scalar", "--init"]


def test_bench_help_lists_the_runner_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert all(option in text for option in BENCH_OPTIONS)


def test_bench_finds_the_benchmarks_folder_of_the_clone():
    folder = cli.benchmarks_dir()
    assert folder is not None and (folder / "runner.py").is_file()
    assert cli.load_benchmarks().__name__ == "benchmarks.runner"


def test_bench_without_a_clone_says_where_to_run_it(capsys, monkeypatch):
    monkeypatch.setattr(cli, "benchmarks_dir", lambda: None)
    assert cli.load_benchmarks() is None
    code = cli.main(["bench", "--quick", "--no-torch"])
    err = capsys.readouterr().err
    assert code == 2 and "clone" in err and "pip install -e ." in err


def test_unknown_command_and_no_command(capsys):
    assert cli.main([]) == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["nonsense"])


def test_docstring_examples_pass():
    result = doctest.testmod(importlib.import_module("microinit.cli"), verbose=False, report=False)
    assert result.failed == 0 and result.attempted == 0
