"""tests/browser.py: the shared headless-Chromium fixture sees console errors and
uncaught exceptions, and blocks (and records) every request that is not local."""
import pytest

import browser
from browser import assert_clean, find_chromium

browser_page = browser.browser_page  # the shared fixture

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body><p id="x">local</p>
<img src="https://example.invalid/pixel.png">
<script>console.error("boom"); throw new Error("uncaught one");</script>
</body></html>"""


def test_fixture_records_errors_and_blocks_the_network(browser_page, tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    browser_page.goto(path.as_uri())
    browser_page.wait_for_load_state("load")
    assert browser_page.text_content("#x") == "local"
    assert any("boom" in e for e in browser_page.console_errors)
    assert any("uncaught one" in e for e in browser_page.console_errors)
    assert browser_page.blocked_requests == ["https://example.invalid/pixel.png"]
    with pytest.raises(AssertionError, match="console errors"):
        assert_clean(browser_page)


def test_a_clean_page_is_clean(browser_page, tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<!doctype html><title>t</title><p id=x>ok</p>", encoding="utf-8")
    browser_page.goto(path.as_uri())
    assert browser_page.text_content("#x") == "ok"
    assert_clean(browser_page)


def test_find_chromium_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MICROINIT_CHROMIUM", str(tmp_path / "missing"))
    assert find_chromium() is None
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("MICROINIT_CHROMIUM", str(fake))
    assert find_chromium() == str(fake)


def _run_with_env(**env):
    """This file's clean-page test in a child pytest with ``env`` set; its exit code and output."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    child_env = {**os.environ, **env}
    root = Path(__file__).resolve().parents[2]
    # --noconftest: the shared conftest imports torch, slow for a child; tests/ on the path instead
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "tests"), str(root),
                                                            os.environ.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts=",
                           "-rs", "-q", f"{__file__}::test_a_clean_page_is_clean"], capture_output=True, text=True,
                          timeout=300, env=child_env, cwd=root)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_missing_browser_skips_or_fails_where_required(tmp_path):
    missing = str(tmp_path / "no-chromium")
    code, out = _run_with_env(MICROINIT_CHROMIUM=missing, MICROINIT_REQUIRE_BROWSER="0")
    assert code == 0 and "1 skipped" in out and "no Chromium browser found" in out, out
    code, out = _run_with_env(MICROINIT_CHROMIUM=missing, MICROINIT_REQUIRE_BROWSER="1")
    assert code == 1 and "a browser is required here" in out, out
