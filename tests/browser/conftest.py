"""Browser tests: Playwright drives Debian's Chromium against the app served on a free loopback port.

The app is the suite's own (the session's SecantusDB and MinIO), served by werkzeug in a thread so a test can
seed data through the same fixtures as the API tests and then click through the browser apps. Screenshots go to
the test output directory (ZHANGBAN_TEST_OUTPUT, default ./test-output/browser). Where no Chromium, no
Playwright or no built app is found, the tests are skipped and say why (`.ci/run` installs Chromium; `make test`
builds the apps).
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("ZHANGBAN_TEST_OUTPUT", ROOT / "test-output")) / "browser"
CHROMIUM = os.environ.get("ZHANGBAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium's calls home are refused by the closed network, many at a time.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def live_server(app):
    """Base URL of the test app served over real HTTP (threaded: the page loads assets in parallel)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (module scope keeps Playwright's event loop out of other files)."""
    if not CHROMIUM:
        pytest.skip("no Chromium found: install Debian's chromium package (.ci/run does) or set ZHANGBAN_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def require_built(web_source: str) -> None:
    """Skip (saying why) when a browser app's build is missing, e.g. `designer/web`."""
    if not (ROOT / web_source / "dist" / "index.html").is_file():
        pytest.skip(f"{web_source} is not built: run `make web` (npm) first")


@pytest.fixture
def desktop(browser):
    """A fresh 1280×800 tab (the designer's size) with its own storage."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    """A fresh phone-sized tab with touch (the mobile client's size)."""
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shot(request):
    """shot(page, "name") saves a screenshot as <output>/<test name>/<nn>-<name>.png and returns its path."""
    folder = OUTPUT / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    taken = []

    def take(page, name: str) -> Path:
        taken.append(name)
        path = folder / f"{len(taken):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
