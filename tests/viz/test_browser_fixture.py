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
