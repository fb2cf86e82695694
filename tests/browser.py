"""Headless Chromium for the tests that open microinit's HTML files (a shared fixture).

The browser is Debian's ``chromium`` driven by Playwright with ``executable_path``
(Playwright's own browser download is not used). It is found as ``$MICROINIT_CHROMIUM``
if set, else ``chromium`` or ``chromium-browser`` on PATH. Where Playwright or the
browser is missing the tests that use it are skipped with the reason -- unless
``MICROINIT_REQUIRE_BROWSER=1`` (CI sets it), where that is a failure.

Use it from a test module (``tests/`` is on ``sys.path`` because of tests/conftest.py)::

    import browser

    browser_page = browser.browser_page   # the fixture, made visible to this module's tests

    def test_my_page(browser_page, tmp_path):
        path = tmp_path / "page.html"
        ...                                   # write the page
        browser_page.goto(path.as_uri())
        browser_page.click("#next")
        browser.assert_clean(browser_page)

``browser_page`` is a Playwright sync ``Page`` (a fresh browser context per test, one
browser per session) with two lists added:

- ``page.console_errors``: the text of every console message of type ``error`` and of
  every uncaught exception (``pageerror``), in the order they happened;
- ``page.blocked_requests``: the URL of every request the page tried to make to
  anything but ``file:``, ``data:``, ``blob:`` or ``about:`` -- such requests are
  aborted, so a page that needs the network fails visibly instead of fetching.

``assert_clean(page)`` asserts both lists are empty (with their contents in the message).
"""
import os
import shutil

import pytest

REQUIRE_ENV = "MICROINIT_REQUIRE_BROWSER"
CHROMIUM_ENV = "MICROINIT_CHROMIUM"
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def find_chromium():
    """The path of the Chromium binary to use, or None."""
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        return chosen if os.path.isfile(chosen) and os.access(chosen, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_required():
    return os.environ.get(REQUIRE_ENV, "") == "1"


def _unavailable(reason):
    """Skip the test, or fail it where a browser is required (CI)."""
    if browser_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: a browser is required here)", pytrace=False)
    pytest.skip(reason)


class _Session:
    """One Playwright instance and one browser for the whole test session (the sync API
    allows only one Playwright per thread, so every importing module shares this)."""
    playwright = None
    browser = None

    @classmethod
    def start(cls):
        if cls.browser is not None:
            return cls.browser
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            _unavailable("playwright is not installed (pip install playwright)")
        executable = find_chromium()
        if executable is None:
            where = os.environ.get(CHROMIUM_ENV) or "chromium or chromium-browser on PATH"
            _unavailable(f"no Chromium browser found ({where}); install Debian's chromium "
                         f"or set {CHROMIUM_ENV}")
        cls.playwright = sync_playwright().start()
        try:
            # --no-sandbox: CI runs as root, where Chromium refuses its sandbox
            cls.browser = cls.playwright.chromium.launch(executable_path=executable, headless=True,
                                                         args=["--no-sandbox"])
        except Exception as err:  # a broken install: say which binary and why
            cls.stop()
            _unavailable(f"Chromium at {executable} did not start: {err}")
        return cls.browser

    @classmethod
    def stop(cls):
        if cls.browser is not None:
            cls.browser.close()
            cls.browser = None
        if cls.playwright is not None:
            cls.playwright.stop()
            cls.playwright = None


@pytest.fixture
def browser_page(request):
    """A Playwright ``Page`` with ``console_errors`` and ``blocked_requests`` lists."""
    if _Session.browser is None:
        # one browser for the session, closed when pytest finishes (a plain fixture, not a
        # session-scoped one, so that importing this one name is all a test module needs)
        _Session.start()
        request.config.add_cleanup(_Session.stop)
    context = _Session.browser.new_context()
    page = context.new_page()
    page.console_errors = []
    page.blocked_requests = []

    def on_console(message):
        if message.type == "error":
            page.console_errors.append(f"console.error: {message.text}")

    def on_request(route):
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            page.blocked_requests.append(url)
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda err: page.console_errors.append(f"uncaught: {err}"))
    context.route("**/*", on_request)
    yield page
    context.close()


def assert_clean(page):
    """No console errors, no uncaught exceptions and no blocked (non-local) request."""
    assert page.console_errors == [], f"console errors: {page.console_errors}"
    assert page.blocked_requests == [], f"requests to non-local URLs: {page.blocked_requests}"
