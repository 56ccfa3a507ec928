"""The designer's shell in a real Chromium: served by Flask, no outside asset, sign-in, language switch."""
from __future__ import annotations

from tests.browser.conftest import require_built


def test_staff_sign_in_and_switch_to_english(live_server, desktop, make_staff, shot):
    require_built("designer/web")
    make_staff("designer-1", [{"role": "admin"}])
    outside = []
    desktop.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)
    desktop.goto(f"{live_server}/designer/")
    desktop.get_by_label("用户名").fill("designer-1")
    desktop.get_by_label("密码").fill("correct horse battery")
    desktop.get_by_role("button", name="登录").click()
    desktop.get_by_role("button", name="退出 (designer-1)").wait_for()
    shot(desktop, "signed-in")
    desktop.get_by_role("button", name="English").click()
    desktop.get_by_role("button", name="Sign out (designer-1)").wait_for()
    assert outside == []                      # nothing from a CDN or any other origin
    token = desktop.evaluate("sessionStorage.getItem('zhangban.designer.tokens')")
    assert token and "access_token" in token  # kept for this tab only
    assert desktop.evaluate("localStorage.length") == 1   # the language, nothing secret


def test_a_wrong_password_is_said_on_the_page(live_server, desktop, make_staff):
    require_built("designer/web")
    make_staff("designer-2", [{"role": "admin"}])
    desktop.goto(f"{live_server}/designer/")
    desktop.get_by_label("用户名").fill("designer-2")
    desktop.get_by_label("密码").fill("wrong")
    desktop.get_by_role("button", name="登录").click()
    assert desktop.get_by_role("alert").inner_text()
