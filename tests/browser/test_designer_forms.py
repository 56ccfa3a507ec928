"""The forms room in a real Chromium: an official builds a form only through the builder (palette, canvas, property
panel, condition pickers), sees the phone preview and the problems beside the fields, saves, meets someone
else's save, publishes, and reads the version; an expired access token is refreshed mid-session."""
from __future__ import annotations

import dataclasses
import time

import pytest

from forms.models import FormDraft, FormVersion
from tests.browser.conftest import require_built
from tests.conftest import bearer

PASSWORD = "correct horse battery"


@pytest.fixture
def official(make_staff, department):
    make_staff("official-1", [{"role": "designer", "department_id": department["id"]}])
    return "official-1"


def sign_in(page, live_server, username):
    page.goto(f"{live_server}/designer/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name=f"退出 ({username})").wait_for()


def props_panel(page):
    return page.get_by_role("region", name="属性")


def test_an_official_builds_previews_and_publishes_a_form_without_json(live_server, desktop, official, shot, client,
                                                                         make_staff, department):
    require_built("designer/web")
    page = desktop
    sign_in(page, live_server, official)
    page.get_by_role("button", name="新建表单").click()
    page.get_by_label("表单标识").fill("birth-allowance")
    page.get_by_label("表单名称").fill("生育津贴申请")
    page.get_by_label("英文名称").fill("Maternity allowance")
    shot(page, "forms-new")
    page.get_by_role("button", name="创建").click()
    page.get_by_role("heading", level=1, name="生育津贴申请").wait_for()

    # 身份证号, by the palette's button (keyboard way); relabelled and made required in the property panel
    page.get_by_role("button", name="添加 身份证号").click()
    panel = props_panel(page)
    panel.get_by_label("字段标识").fill("id_card")
    panel.get_by_label("字段标识").press("Tab")
    panel.get_by_label("标签（中文）").fill("申请人身份证号")
    panel.get_by_label("标签（英文）").fill("Applicant's ID card number")
    panel.get_by_label("必填", exact=True).check()
    panel.get_by_label("预填来源").select_option("profile.id_card")

    # a photo, dragged from the palette onto the canvas
    canvas = page.get_by_role("region", name="画布")
    page.locator(".palette-item[data-widget=photo]").drag_to(canvas.locator(".field-list").first)
    canvas.locator(".field-item[data-key=photo_1]").wait_for()
    panel.get_by_label("字段标识").fill("id_photo")
    panel.get_by_label("字段标识").press("Tab")
    panel.get_by_label("标签（中文）").fill("身份证照片")

    # a switch, and a field shown only when it is on: the condition from the pickers
    page.get_by_role("button", name="添加 开关").click()
    panel.get_by_label("字段标识").fill("married")
    panel.get_by_label("字段标识").press("Tab")
    panel.get_by_label("标签（中文）").fill("已婚")
    page.get_by_role("button", name="添加 单行文本").click()
    panel.get_by_label("字段标识").fill("spouse_name")
    panel.get_by_label("字段标识").press("Tab")
    panel.get_by_label("标签（中文）").fill("配偶姓名")
    visible_if = panel.get_by_role("group", name="显示条件")
    visible_if.get_by_role("button", name="添加条件").click()
    visible_if.get_by_label("显示条件: 条件字段 1").select_option("married")
    visible_if.get_by_label("显示条件: 值 1").select_option("true")
    assert canvas.locator(".field-item[data-key=spouse_name] .cond").inner_text().strip() == "⟂ married == true"
    canvas.get_by_role("button", name="选中 已婚").click()               # a renamed key: its conditions follow
    panel.get_by_label("字段标识").fill("is_married")
    panel.get_by_label("字段标识").press("Tab")
    assert canvas.locator(".field-item[data-key=spouse_name] .cond").inner_text().strip() == "⟂ is_married == true"
    panel.get_by_label("字段标识").fill("married")
    panel.get_by_label("字段标识").press("Tab")
    canvas.get_by_role("button", name="选中 配偶姓名").click()

    # the preview: the server's render model of the unsaved draft; the condition works in it
    phone = page.get_by_role("region", name="预览")
    phone.get_by_text("申请人身份证号").wait_for()
    phone.get_by_text("身份证照片").wait_for()
    assert phone.get_by_text("配偶姓名").count() == 0
    phone.get_by_label("已婚").check()
    phone.get_by_text("配偶姓名").wait_for()
    shot(page, "forms-builder")

    # a problem is shown beside the field it names, and goes when fixed
    canvas.get_by_role("button", name="选中 配偶姓名").click()
    panel.get_by_label("格式（正则表达式）").fill("((")
    panel.get_by_label("格式（正则表达式）").press("Tab")
    problem = canvas.locator(".field-item[data-key=spouse_name] .problems")
    problem.get_by_text("正则表达式无效").wait_for()
    shot(page, "forms-problem")
    panel.get_by_label("格式（正则表达式）").fill("^\\S+$")
    panel.get_by_label("格式（正则表达式）").press("Tab")
    problem.wait_for(state="detached")

    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").get_by_text("已保存").wait_for()
    stored = FormDraft.objects.get(key="birth-allowance").schema
    assert list(stored["properties"]) == ["id_card", "id_photo", "married", "spouse_name"]
    assert stored["required"] == ["id_card"]
    assert stored["properties"]["id_card"]["x-ui"]["widget"] == "id-card"
    assert stored["properties"]["id_card"]["x-prefill"] == "profile.id_card"
    assert stored["properties"]["id_photo"]["x-ui"]["widget"] == "photo"
    assert stored["properties"]["spouse_name"]["x-visible-if"] == "married == true"

    # someone else saves first: a 412, said on the page, and a reload
    _, other = make_staff("official-2", [{"role": "designer", "department_id": department["id"]}])
    version = FormDraft.objects.get(key="birth-allowance").version
    r = client.put("/api/v1/designer/forms/birth-allowance", json={"title": "生育津贴申请（新）"},
                   headers={**other, "If-Match": f'"{version}"'})
    assert r.status_code == 200
    panel.get_by_label("标签（中文）").fill("配偶的姓名")
    page.get_by_role("button", name="保存").click()
    conflict = page.get_by_role("alertdialog")
    conflict.get_by_text("其他人已先保存了这个表单").wait_for()
    shot(page, "forms-conflict")
    conflict.get_by_role("button", name="重新加载").click()
    page.get_by_role("heading", level=1, name="生育津贴申请（新）").wait_for()
    assert FormDraft.objects.get(key="birth-allowance").schema["properties"]["spouse_name"]["x-ui"]["label"][
        "zh-CN"] == "配偶姓名"

    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").get_by_text("已发布为第 1 版").wait_for()
    published = FormVersion.objects.get(key="birth-allowance", version=1)
    assert published.schema["properties"]["spouse_name"]["x-visible-if"] == "married == true"

    page.get_by_label("历史版本").select_option(label="第 1 版")
    page.get_by_role("heading", level=1, name="第 1 版").wait_for()
    page.get_by_role("figure", name="手机预览").get_by_text("身份证照片").wait_for()
    assert page.get_by_role("button", name="保存").count() == 0      # read-only
    shot(page, "forms-version")

    page.get_by_role("link", name="← birth-allowance").click()
    page.get_by_role("link", name="← 返回表单列表").click()
    page.get_by_label("搜索表单").fill("生育")
    page.get_by_role("link", name="birth-allowance").wait_for()
    page.get_by_label("搜索表单").fill("不存在")
    page.get_by_text("还没有表单").wait_for()
    page.get_by_role("button", name="English").click()
    page.get_by_label("Search forms").fill("")
    page.get_by_role("link", name="birth-allowance").wait_for()
    shot(page, "forms-list-en")


def test_an_expired_access_token_is_refreshed_mid_session(live_server, desktop, official, app, shot):
    require_built("designer/web")
    runtime = app.extensions["zhangban"]
    kept = runtime.settings
    runtime.settings = dataclasses.replace(kept, access_token_seconds=3)
    try:
        sign_in(desktop, live_server, official)
        before = desktop.evaluate("JSON.parse(sessionStorage.getItem('zhangban.designer.tokens'))")
        time.sleep(3.2)                                # the access token has expired (not a timing assertion)
        with desktop.expect_response(lambda r: r.url.endswith("/api/v1/auth/refresh")) as refreshed:
            desktop.get_by_role("link", name="事项").click()      # the room asks the API as it opens: 401
        assert refreshed.value.status == 200
        desktop.get_by_text("还没有事项").wait_for()              # the request that met the 401, retried
        after = desktop.evaluate("JSON.parse(sessionStorage.getItem('zhangban.designer.tokens'))")
        assert after["refresh_token"] != before["refresh_token"]          # refreshed once, and it rotated
        assert desktop.get_by_role("button", name=f"退出 ({official})").is_visible()
    finally:
        runtime.settings = kept


def test_a_revoked_session_returns_to_sign_in_saying_why(live_server, desktop, official, client):
    require_built("designer/web")
    sign_in(desktop, live_server, official)
    pair = desktop.evaluate("JSON.parse(sessionStorage.getItem('zhangban.designer.tokens'))")
    assert client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    desktop.get_by_role("link", name="事项").click()           # the room asks the API: 401, and no refresh
    desktop.get_by_role("alert").get_by_text("登录已过期，请重新登录").wait_for()
    assert desktop.evaluate("sessionStorage.getItem('zhangban.designer.tokens')") is None


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')].filter((el) => {
  if (el.offsetParent === null) return false;                               // not shown
  if (el.getAttribute('aria-label') || el.closest('label')) return false;
  if (el.id && document.querySelector(`label[for="${el.id}"]`)) return false;
  if (el.tagName === 'BUTTON' && el.textContent.trim()) return false;
  return true;
}).map((el) => el.outerHTML.slice(0, 120))"""


def test_every_field_kind_is_built_previewed_and_labelled(live_server, desktop, official, client, make_staff,
                                                         department, shot):
    require_built("designer/web")
    from forms.vocabulary import WIDGETS

    page = desktop
    sign_in(page, live_server, official)
    page.get_by_role("button", name="新建表单").click()
    page.get_by_label("表单标识").fill("every-kind")
    page.get_by_label("表单名称").fill("全部控件")
    page.get_by_role("button", name="创建").click()
    page.get_by_role("heading", level=1, name="全部控件").wait_for()
    palette = page.get_by_role("complementary", name="控件")
    kinds = page.locator(".palette-item").evaluate_all("els => els.map((e) => e.dataset.widget)")
    assert sorted(kinds) == sorted(WIDGETS)                    # the palette offers every kind of the language
    canvas = page.get_by_role("region", name="画布")
    for widget in kinds:
        canvas.get_by_role("button", name="表单设置").click()      # nothing selected: the palette adds at the end
        palette.locator(f".palette-item[data-widget={widget}]").click()
        assert page.evaluate(UNLABELLED) == [], widget          # every control of its property panel is labelled
    # a group and a repeatable group each get a field (selected container: the palette adds into it)
    canvas.get_by_role("button", name="选中 分组").click()
    palette.get_by_role("button", name="添加 单行文本").click()
    canvas.get_by_role("button", name="选中 可重复分组").click()
    palette.get_by_role("button", name="添加 整数").click()
    page.get_by_role("region", name="属性").get_by_label("最小值").fill("1")
    page.get_by_role("region", name="属性").get_by_label("最小值").press("Tab")
    # a section, from the form's settings, holds the first field
    canvas.get_by_role("button", name="表单设置").click()
    page.get_by_role("button", name="添加分区").click()
    page.get_by_label("标签（中文） 1").fill("申请人信息")
    canvas.get_by_role("button", name="选中 单行文本").first.click()
    page.get_by_role("region", name="属性").get_by_label("所属分区").select_option(label="申请人信息")
    page.get_by_text("没有问题").wait_for()
    phone = page.get_by_role("region", name="预览")
    phone.get_by_role("heading", name="申请人信息").wait_for()
    phone.get_by_text("可重复分组").wait_for()
    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").get_by_text("已保存").wait_for()
    assert page.evaluate(UNLABELLED) == []
    shot(page, "forms-every-kind")
    canvas.get_by_role("button", name="下移 单行文本").first.focus()     # from the keyboard: move a field down
    page.keyboard.press("Enter")
    assert canvas.locator(".field-item").evaluate_all("els => els.map((e) => e.dataset.key)")[:2] == [
        "textarea_1", "text_1"]
    page.get_by_role("button", name="English").click()
    page.get_by_role("region", name="Canvas").get_by_role("button", name="Form settings").wait_for()
    page.get_by_role("region", name="Preview").get_by_text("Whole number").first.wait_for()
    shot(page, "forms-every-kind-en")
    _, headers = make_staff("checker", [{"role": "designer", "department_id": department["id"]}])
    check = client.post("/api/v1/designer/forms/every-kind/render", headers=headers).json
    assert check["valid"] is True and check["fields"] == len(WIDGETS) + 2
    assert {c["type"] for c in check["model"]["components"]} == set(WIDGETS)
    saved = FormDraft.objects.get(key="every-kind").schema
    assert saved["x-ui"]["sections"] == [{"key": "section1", "label": {"zh-CN": "申请人信息", "en": "Section 1"}}]
    assert saved["properties"]["text_1"]["x-ui"]["section"] == "section1"
    row = saved["properties"]["repeat_1"]["items"]["properties"]
    assert row["integer_2"]["minimum"] == 1                  # keys stay unique in the whole form


def test_the_builder_keeps_what_it_does_not_edit(live_server, desktop, official, client, make_staff, department):
    """A form written elsewhere (every kind, sections, if/then rules, dependentRequired, rows) opens in the builder
    and comes back from a save exactly as it was, but for the one label changed."""
    require_built("designer/web")
    from tests.forms_fixtures import every_kind

    _, headers = make_staff("writer", [{"role": "designer", "department_id": department["id"]}])
    r = client.post("/api/v1/designer/forms", json={"key": "low-income", "title": "低保申请",
                                                    "department": department["id"], "schema": every_kind()},
                    headers=headers)
    assert r.status_code == 201
    page = desktop
    sign_in(page, live_server, official)
    page.get_by_role("link", name="low-income").click()
    canvas = page.get_by_role("region", name="画布")
    canvas.get_by_role("button", name="选中 就读学校").click()          # a field of a repeat's row
    panel = props_panel(page)
    assert panel.get_by_label("显示条件: 条件字段 1").input_value() == "relation"
    panel.get_by_label("标签（中文）").fill("在读学校")
    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").get_by_text("已保存").wait_for()
    expected = every_kind()
    expected["properties"]["family"]["items"]["properties"]["school"]["x-ui"]["label"] = {"zh-CN": "在读学校"}
    assert FormDraft.objects.get(key="low-income").schema == expected


def test_a_form_that_is_not_yours_says_so(live_server, desktop, official):
    require_built("designer/web")
    sign_in(desktop, live_server, official)
    desktop.goto(f"{live_server}/designer/#forms/someone-elses")
    desktop.get_by_role("alert").wait_for()
    assert "未找到该对象" in desktop.get_by_role("alert").inner_text()     # the API's 404, in Chinese
    desktop.get_by_role("link", name="返回表单列表").click()
    desktop.get_by_text("还没有表单").wait_for()
