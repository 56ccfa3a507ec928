"""The process modeler in a real Chromium (issue 11, items 4, 5 and 8): open an example from docs/bpmn/, bind a
published form to its user task and its lane to a department, see the problems pinned on their elements and fix
them, publish, open the version read only, and run a test run to the end. A screenshot of each screen."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import require_built

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "bpmn" / "user_task_form.bpmn"
FORMS = "/api/v1/designer/forms"
PROCESSES = "/api/v1/designer/processes"
WINDOW_REVIEW = {
    "type": "object", "required": ["originals"], "properties": {
        "originals": {"type": "string", "enum": ["seen", "copies"], "x-ui": {
            "widget": "radio", "label": {"zh-CN": "原件核验", "en": "Originals"},
            "options": [{"value": "seen", "label": {"zh-CN": "已核验原件", "en": "Seen"}},
                        {"value": "copies", "label": {"zh-CN": "仅复印件", "en": "Copies only"}}]}},
        "days": {"type": "integer", "minimum": 0, "maximum": 30,
                 "x-ui": {"label": {"zh-CN": "办理天数", "en": "Days"}}}}}


@pytest.fixture
def social_designer(client, make_department, make_staff):
    """A designer of 社会事务科 (code `social`) with one published form, `window_review`; no `civil`, no `review`."""
    social = make_department("social", "社会事务科")
    _, headers = make_staff("designer-social", [{"role": "designer", "department_id": social["id"]}])
    r = client.post(FORMS, json={"key": "window_review", "title": "窗口审核意见", "department": social["id"],
                                 "schema": WINDOW_REVIEW}, headers=headers)
    assert r.status_code == 201, r.json
    assert client.post(f"{FORMS}/window_review/publish", headers=headers).status_code == 201
    return headers


def sign_in(page, live_server, username):
    page.goto(f"{live_server}/designer/#processes")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("correct horse battery")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="新建流程").wait_for()


def element(page, element_id):
    return page.locator(f'g.djs-element[data-element-id="{element_id}"]')


def pinned(page, element_id):
    return page.locator(f'.djs-overlays .zb-problem[data-element-id="{element_id}"]')


def test_open_an_example_bind_form_and_lane_fix_problems_publish_and_run_it(
        live_server, desktop, social_designer, client, shot):
    require_built("designer/web")
    page = desktop
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)
    sign_in(page, live_server, "designer-social")
    shot(page, "process-list")

    # open the example: the file's process id becomes the key; its department is the designer's
    page.get_by_label("导入 BPMN 文件（可选）").set_input_files(str(EXAMPLE))
    page.get_by_label("名称").fill("一般审核")
    page.get_by_role("button", name="创建").click()
    element(page, "review").wait_for()
    assert page.locator(".bjs-powered-by").is_visible()           # the bpmn.io watermark stays
    for node in ("start", "review", "end", "Lane_civil"):
        assert element(page, node).is_visible()
    shot(page, "modeler")

    # the example names a lane `civil` and a form `review` this database does not have: pinned on the elements
    page.get_by_role("button", name="校验").click()
    pinned(page, "review").wait_for()
    assert pinned(page, "Lane_civil").is_visible()
    assert "review" in pinned(page, "review").inner_text()
    problems = page.get_by_role("region", name="问题")
    assert "unknown_lane" in problems.inner_text() and "Lane_civil" in problems.inner_text()

    # bind the published form to the user task, and the lane to the department
    element(page, "review").click()
    panel = page.get_by_role("complementary", name="属性")
    assert "review ⚠" in panel.get_by_label("表单（已发布）").inner_text()   # the example's form, not published here
    shot(page, "problems-pinned")
    panel.get_by_label("表单（已发布）").select_option("window_review")
    assert page.locator(".zb-problem").count() == 0                 # a change clears the pins until checked again
    element(page, "Lane_civil").click(position={"x": 12, "y": 60})  # the lane's name band
    panel.get_by_label("泳道：部门或角色").select_option("social")
    shot(page, "properties-bound")
    page.get_by_role("button", name="校验").click()
    page.get_by_role("status").filter(has_text="校验通过").wait_for()
    assert page.locator(".zb-problem").count() == 0

    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").filter(has_text="已发布为第 1 版").wait_for()
    published = client.get(f"{PROCESSES}/user_task_form/versions/1", headers=social_designer).json
    assert 'value="window_review"' in published["bpmn_xml"] and 'name="social"' in published["bpmn_xml"]
    assert published["user_tasks"] == [{"element_id": "review", "name": "窗口审核", "form_key": "window_review",
                                        "form_version": 1}]
    assert "BPMNShape" in published["bpmn_xml"]                    # saved with its layout

    # an earlier version opens read only: no palette, nothing to edit
    page.get_by_label("版本").select_option("#processes/user_task_form/v/1")
    page.get_by_role("status").filter(has_text="只读").wait_for()
    element(page, "review").wait_for()
    assert page.locator(".djs-palette").count() == 0
    shot(page, "version-read-only")

    # try it: the waiting task is highlighted, its form is filled in the preview, the run ends
    page.get_by_role("link", name="试运行").click()
    run = page.get_by_role("complementary", name="试运行")
    run.get_by_label("开始数据（JSON）").fill('{"applicant": "陈静"}')
    run.get_by_role("button", name="开始试运行").click()
    run.get_by_text("运行中").wait_for()
    assert "zb-active" in element(page, "review").get_attribute("class")
    assert "zb-passed" in element(page, "start").get_attribute("class")
    preview = run.get_by_role("form", name="表单预览")
    preview.get_by_label("原件核验").select_option("seen")
    preview.get_by_label("办理天数").fill("3")
    shot(page, "test-run-waiting")
    preview.get_by_role("button", name="提交并完成任务").click()
    run.get_by_text("已办结").wait_for()
    assert "zb-active" not in element(page, "review").get_attribute("class")
    assert "zb-passed" in element(page, "end").get_attribute("class")
    assert [e.strip() for e in run.locator("ol.path li").all_inner_texts()][-1].startswith("办结")
    shot(page, "test-run-completed")
    assert outside == []
