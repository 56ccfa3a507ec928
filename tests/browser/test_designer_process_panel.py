"""The process modeler's properties and layouts in a real Chromium (issue 11, items 4 and 5): every docs/bpmn
example opens with its layout; the panel edits conditions, timers, countersign settings and scripts and saves
what the engine reads; BPMN without a layout is laid out in the browser; an incident is pinned on its element."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from lxml import etree

from tests.browser.conftest import require_built
from tests.workflows_fixtures import EXAMPLES, example

PROCESSES = "/api/v1/designer/processes"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
NOT_NODES = {"sequenceFlow", "laneSet", "ioSpecification", "dataObject", "property", "extensionElements",
             "textAnnotation", "association"}


@pytest.fixture
def admin_designer(client, make_department, make_staff):
    civil = make_department("civil", "民政局")
    housing = make_department("housing", "住建局")
    _, headers = make_staff("designer-root", [{"role": "admin"}])
    return headers, {"civil": civil["id"], "housing": housing["id"]}


def upload(client, headers, department, key, xml, dmn=()):
    r = client.post(PROCESSES, json={"key": key, "name": key, "department": department, "bpmn_xml": xml,
                                     "dmn": [{"name": n, "xml": example(n)} for n in dmn]}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def open_draft(page, live_server, key, node, username="designer-root"):
    """Open a draft in the modeler and wait until `node` of it is drawn."""
    page.goto(f"{live_server}/designer/#processes/{key}")
    if page.get_by_label("用户名").is_visible():
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill("correct horse battery")
        page.get_by_role("button", name="登录").click()
    page.get_by_role("toolbar").get_by_text(f"（{key}）").wait_for()
    element(page, node).wait_for()


def element(page, element_id):
    return page.locator(f'g.djs-element[data-element-id="{element_id}"]')


def flow_nodes(xml: str) -> set[str]:
    root = etree.fromstring(xml.encode())
    return {e.get("id") for e in root.xpath("//bpmn:process/*[@id]", namespaces=NS)
            if etree.QName(e).localname not in NOT_NODES}


def bounds(root) -> dict[str, tuple[float, ...]]:
    return {s.get("bpmnElement"): tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
            for s in root.xpath("//bpmndi:BPMNShape", namespaces=NS)
            for b in s.xpath("./*[local-name()='Bounds']")}


def test_each_examples_nodes_are_drawn_inside_their_lane():
    for path in sorted(EXAMPLES.glob("*.bpmn")):
        root = etree.fromstring(path.read_bytes())
        shapes = bounds(root)
        for lane in root.xpath("//bpmn:lane", namespaces=NS):
            lx, ly, lw, lh = shapes[lane.get("id")]
            for ref in lane.xpath("./bpmn:flowNodeRef/text()", namespaces=NS):
                x, y, w, h = shapes[ref]
                assert lx <= x and x + w <= lx + lw and ly <= y + h / 2 <= ly + lh, (path.name, lane.get("name"), ref)


def test_every_docs_example_opens_with_its_layout(live_server, desktop, client, admin_designer, shot):
    require_built("designer/web")
    headers, departments = admin_designer
    files = sorted(EXAMPLES.glob("*.bpmn"))
    assert len(files) == 12
    for path in files:
        xml = path.read_text()
        drawn = set(etree.fromstring(xml.encode()).xpath("//bpmndi:BPMNShape/@bpmnElement", namespaces=NS))
        assert flow_nodes(xml) <= drawn, path.name            # the committed layout draws every node
        upload(client, headers, departments["housing" if path.stem == "housing_check" else "civil"], path.stem, xml,
               ["fee_decision.dmn"] if path.stem == "dmn_decision" else ())
    for path in files:
        nodes = flow_nodes(path.read_text())
        open_draft(desktop, live_server, path.stem, "start" if "start" in nodes else sorted(nodes)[0])
        for node in nodes:
            assert element(desktop, node).count() == 1, (path.name, node)
        assert desktop.get_by_text("已保存", exact=True).is_visible()   # nothing was laid out again
        shot(desktop, path.stem)


def test_the_panel_edits_what_the_engine_reads(live_server, desktop, client, admin_designer, shot):
    require_built("designer/web")
    headers, departments = admin_designer
    for key in ("countersign_all", "exclusive_gateway", "boundary_timers"):
        upload(client, headers, departments["civil"], key, example(f"{key}.bpmn"))
    page = desktop
    panel = page.get_by_role("complementary", name="属性")

    # countersign: the collection names survive bpmn-js (they are bare names, not element ids)
    open_draft(page, live_server, "countersign_all", "countersign")
    element(page, "countersign").click()
    assert panel.get_by_role("combobox", name=re.compile("^会签")).input_value() == "parallel"
    assert panel.get_by_label("会签人列表变量").input_value() == "signers"
    panel.get_by_label("提前结束条件").fill("opinion == 'veto'")
    panel.get_by_label("提前结束条件").press("Tab")
    shot(page, "countersign")
    page.get_by_role("button", name="English").click()               # the same panel in English
    english = page.get_by_role("complementary", name="Properties")
    assert english.get_by_label("Signers collection").input_value() == "signers"
    assert english.get_by_role("combobox", name=re.compile("^Countersign")).input_value() == "parallel"
    page.get_by_role("button", name="中文").click()
    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").filter(has_text="已保存").wait_for()
    saved = client.get(f"{PROCESSES}/countersign_all", headers=headers).json["bpmn_xml"]
    assert "<bpmn:loopDataInputRef>signers</bpmn:loopDataInputRef>" in saved
    assert "<bpmn:loopDataOutputRef>opinions</bpmn:loopDataOutputRef>" in saved
    assert re.search(r"<bpmn:completionCondition[^>]*>opinion == 'veto'</bpmn:completionCondition>", saved)
    check = client.post(f"{PROCESSES}/countersign_all/validate", json={}, headers=headers).json
    assert {e["code"] for e in check["errors"]} == {"form_not_published"}, check   # no form in this database

    # a gateway's conditions and its default flow; a script task lists the sandbox's helpers
    open_draft(page, live_server, "exclusive_gateway", "by_amount")
    element(page, "by_amount").click()
    big = panel.get_by_role("textbox", name=re.compile(r"\(f_big\)$"))
    assert big.input_value() == "amount >= 10000"
    big.fill("amount >= 20000")
    big.press("Tab")
    assert panel.get_by_role("combobox", name=re.compile("^默认分支")).input_value() == "f_default"
    shot(page, "gateway")
    element(page, "mark_fast").click()
    assert "round_money(x, 2)" in panel.inner_text() and "add_working_days(d, n)" in panel.inner_text()
    assert "fee = round_money" in panel.get_by_label("脚本（Python，在沙箱中运行）").input_value()
    shot(page, "script")
    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").filter(has_text="已保存").wait_for()
    saved = client.get(f"{PROCESSES}/exclusive_gateway", headers=headers).json["bpmn_xml"]
    assert "amount &gt;= 20000" in saved and 'default="f_default"' in saved

    # a timer: kind and expression; a syntax error in it is pinned on the timer by validation
    open_draft(page, live_server, "boundary_timers", "remind")
    element(page, "remind").click()
    assert panel.get_by_label("定时类型").input_value() == "timeDuration"
    assert panel.get_by_label("定时表达式").input_value() == '"P2D"'
    assert not panel.get_by_label("中断任务（超时转办）").is_checked()
    panel.get_by_label("定时表达式").fill('"P3D')
    panel.get_by_label("定时表达式").press("Tab")
    page.get_by_role("button", name="校验").click()
    page.locator('.zb-problem[data-element-id="remind"]').wait_for()
    shot(page, "timer-problem")
    page.get_by_role("region", name="问题").get_by_role("button", name="remind").click()   # selects it
    panel.get_by_label("定时表达式").fill('"P3D"')
    panel.get_by_label("定时表达式").press("Tab")
    page.get_by_role("button", name="校验").click()
    page.locator('.zb-problem[data-element-id="review"]').wait_for()        # its form is not in this database
    assert page.locator('.zb-problem[data-element-id="remind"]').count() == 0
    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").filter(has_text="已保存").wait_for()
    assert '"P3D"</bpmn:timeDuration>' in client.get(f"{PROCESSES}/boundary_timers", headers=headers).json["bpmn_xml"]


NO_LAYOUT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">
  <bpmn:process id="divide" name="除法" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="Lane_civil" name="civil">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>share</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="share" name="人均"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>share = total / count</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="share" />
    <bpmn:sequenceFlow id="f2" sourceRef="share" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_bpmn_without_a_layout_opens_and_an_incident_is_pinned_on_its_element(
        live_server, desktop, client, admin_designer, shot):
    require_built("designer/web")
    headers, departments = admin_designer
    upload(client, headers, departments["civil"], "divide", NO_LAYOUT)
    page = desktop
    open_draft(page, live_server, "divide", "share")
    for node in ("start", "share", "end", "Lane_civil"):
        assert element(page, node).is_visible()
    assert page.get_by_text("有未保存的修改").is_visible()           # laid out here; saving keeps it
    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").filter(has_text="已发布为第 1 版").wait_for()
    assert "BPMNShape" in client.get(f"{PROCESSES}/divide", headers=headers).json["bpmn_xml"]

    page.get_by_role("button", name="试运行").click()
    run = page.get_by_role("complementary", name="试运行")
    run.get_by_label("开始数据（JSON）").fill('{"total": 10, "count": 0}')
    run.get_by_role("button", name="开始试运行").click()
    incident = page.locator('.zb-incident[data-element-id="share"]')
    incident.wait_for()
    assert "ZeroDivisionError" in incident.inner_text() or "division" in incident.inner_text()
    assert run.get_by_text("出错", exact=True).is_visible()
    shot(page, "incident")
    run.get_by_label("开始数据（JSON）").fill('{"total": 10, "count": 2}')
    run.get_by_role("button", name="开始试运行").click()
    run.get_by_text("已办结").wait_for()
    assert page.locator(".zb-incident").count() == 0
    assert "zb-passed" in element(page, "share").get_attribute("class")


def test_a_published_version_reads_only_and_its_test_run_fires_the_timers(
        live_server, desktop, client, admin_designer, shot):
    from api.demo import FORMS

    require_built("designer/web")
    headers, departments = admin_designer
    key, title, title_en, _, schema = next(f for f in FORMS if f[0] == "review")
    r = client.post("/api/v1/designer/forms", json={"key": key, "title": title, "title_en": title_en,
                                                    "department": departments["civil"], "schema": schema},
                    headers=headers)
    assert r.status_code == 201, r.json
    assert client.post(f"/api/v1/designer/forms/{key}/publish", headers=headers).status_code == 201
    upload(client, headers, departments["civil"], "boundary_timers", example("boundary_timers.bpmn"))
    assert client.post(f"{PROCESSES}/boundary_timers/publish", headers=headers).status_code == 201
    page = desktop
    open_draft(page, live_server, "boundary_timers", "remind")
    page.get_by_label("版本").select_option("#processes/boundary_timers/v/1")
    page.get_by_role("status").filter(has_text="只读").wait_for()
    element(page, "review").click()
    panel = page.get_by_role("complementary", name="属性")
    form = panel.get_by_label("表单（已发布）")
    assert form.input_value() == "review" and form.is_disabled()
    shot(page, "version-read-only")

    page.get_by_role("link", name="试运行").click()
    run = page.get_by_role("complementary", name="试运行")
    run.get_by_role("button", name="开始试运行").click()
    run.get_by_text("运行中").wait_for()
    assert "zb-active" in element(page, "review").get_attribute("class")
    assert run.get_by_text("下一个定时").is_visible()
    later = (datetime.now() + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M")
    run.get_by_label("触发到此时间为止的定时").fill(later)
    run.get_by_role("button", name="触发定时器").click()
    run.locator("ol.path li").filter(has_text="5 天超时").wait_for()
    assert "zb-active" in element(page, "escalated_review").get_attribute("class")
    assert "zb-active" not in element(page, "review").get_attribute("class")
    assert "zb-passed" in element(page, "mark_reminded").get_attribute("class")   # the 2-day reminder ran too
    assert run.get_by_role("combobox", name=re.compile("^当前任务")).input_value()
    shot(page, "test-run-timers")


def test_saving_over_someone_elses_save_is_refused_and_said(live_server, desktop, client, admin_designer):
    require_built("designer/web")
    headers, departments = admin_designer
    upload(client, headers, departments["civil"], "user_task_form", example("user_task_form.bpmn"))
    page = desktop
    open_draft(page, live_server, "user_task_form", "review")
    r = client.put(f"{PROCESSES}/user_task_form", json={"name": "别人改过"}, headers={**headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.json
    element(page, "review").click()
    page.get_by_role("complementary", name="属性").get_by_label("名称").fill("窗口初审")
    page.get_by_role("complementary", name="属性").get_by_label("名称").press("Tab")
    page.get_by_role("button", name="保存").click()
    assert "他人已先保存" in page.get_by_role("alert").inner_text()
    draft = client.get(f"{PROCESSES}/user_task_form", headers=headers).json
    assert draft["name"] == "别人改过" and "窗口初审" not in draft["bpmn_xml"]   # the other save stands


def test_an_element_is_selected_from_the_keyboard(live_server, desktop, client, admin_designer, shot):
    """The canvas needs a pointer; the toolbar's element list reaches every element from the keyboard."""
    require_built("designer/web")
    headers, departments = admin_designer
    upload(client, headers, departments["civil"], "user_task_form", example("user_task_form.bpmn"))
    page = desktop
    open_draft(page, live_server, "user_task_form", "review")
    picker = page.get_by_role("toolbar").get_by_label("元素")
    picker.focus()
    review = next(o for o in picker.locator("option").all_inner_texts() if o.endswith("· UserTask"))
    picker.select_option(label=review)
    panel = page.get_by_role("complementary", name="属性")
    panel.get_by_label("名称").wait_for()
    assert panel.get_by_label("名称").input_value() == review.split(" · ")[0]
    panel.get_by_label("名称").fill("键盘改名")
    panel.get_by_label("名称").press("Tab")
    assert any(o.startswith("键盘改名 ·") for o in picker.locator("option").all_inner_texts())
    shot(page, "element-from-keyboard")



SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
TWO_ENDS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">
  <bpmn:process id="two_ends" name="两个结束" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="Lane_civil" name="civil">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>review</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>sign</bpmn:flowNodeRef><bpmn:flowNodeRef>decide</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end_ok</bpmn:flowNodeRef><bpmn:flowNodeRef>end_no</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="受理审核">
      <bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formKey" value="review" />
        </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="sign" name="会签"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="true">
        <bpmn:loopCardinality>2</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>
    <bpmn:exclusiveGateway id="decide" default="f_ok"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f_ok</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_ok" name="通过"><bpmn:incoming>f_ok</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_no" name="不通过"><bpmn:incoming>f_no</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="sign" />
    <bpmn:sequenceFlow id="f3" sourceRef="sign" targetRef="decide" />
    <bpmn:sequenceFlow id="f_ok" sourceRef="decide" targetRef="end_ok" />
    <bpmn:sequenceFlow id="f_no" sourceRef="decide" targetRef="end_no">
      <bpmn:conditionExpression>not approved</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


def spiff_properties(xml: str, element_id: str) -> dict[str, str]:
    """The spiffworkflow:property name → value pairs of one BPMN element, as the saved draft has them."""
    root = etree.fromstring(xml.encode())
    node = root.xpath(f"//bpmn:process/*[@id='{element_id}']", namespaces=NS)[0]
    return {p.get("name"): p.get("value") for p in node.xpath(".//s:property", namespaces={"s": SPIFF})}


def test_an_end_events_outcome_and_a_tasks_reject_route_are_set_and_cleared(
        live_server, desktop, client, admin_designer, shot):
    """Only the draft is saved: with two ends lacking an outcome, validate and publish may refuse it."""
    require_built("designer/web")
    headers, departments = admin_designer
    upload(client, headers, departments["civil"], "two_ends", TWO_ENDS)
    page = desktop
    panel = page.get_by_role("complementary", name="属性")
    outcome = panel.get_by_role("combobox", name=re.compile("^办结结果"))
    on_reject = panel.get_by_role("combobox", name=re.compile("^不同意时"))

    open_draft(page, live_server, "two_ends", "end_no")
    element(page, "end_no").click()
    assert outcome.input_value() == ""
    assert outcome.locator("option:checked").inner_text() == "（未设置）"
    assert panel.get_by_text("流程有多个结束事件时，每个都须设置办结结果").is_visible()
    assert on_reject.count() == 0                                   # an end event has no 不同意
    outcome.select_option(label="不通过（不予）")
    shot(page, "end-outcome")
    element(page, "review").click()
    assert outcome.count() == 0 and on_reject.input_value() == ""   # the default: 不同意 ends the case
    assert on_reject.locator("option:checked").inner_text() == "结束办件（不予通过）"
    on_reject.select_option(label="交由流程判断（网关读取 approved / decision）")
    shot(page, "task-on-reject")
    element(page, "sign").click()                                   # a countersign sums up its signers instead
    assert on_reject.count() == 0
    assert panel.get_by_text("会签的每位签署人意见按会签规则汇总").is_visible()
    shot(page, "countersign-on-reject")
    page.get_by_role("button", name="English").click()              # the same settings in English
    english = page.get_by_role("complementary", name="Properties")
    element(page, "review").click()
    assert english.get_by_role("combobox", name=re.compile(r"^On 不同意 \/ reject")).input_value() == "route"
    element(page, "end_no").click()
    assert english.get_by_role("combobox", name=re.compile("^Case outcome")).input_value() == "rejected"
    page.get_by_role("button", name="中文").click()
    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").filter(has_text="已保存").wait_for()
    saved = client.get(f"{PROCESSES}/two_ends", headers=headers).json["bpmn_xml"]
    assert re.search(r'<bpmn:endEvent id="end_no"[^>]*>\s*<bpmn:extensionElements>\s*<spiffworkflow:properties>\s*'
                     r'<spiffworkflow:property name="outcome" value="rejected"', saved), saved
    assert spiff_properties(saved, "end_no") == {"outcome": "rejected"}
    assert spiff_properties(saved, "end_ok") == {} == spiff_properties(saved, "sign")
    assert spiff_properties(saved, "review") == {"formKey": "review", "onReject": "route"}
    assert 'name="onReject" value="route"' in saved

    # after a reload the panel shows what was saved; both back to their defaults removes the properties
    page.reload()
    element(page, "end_no").wait_for()                              # still signed in: the draft is drawn again
    element(page, "end_no").click()
    assert outcome.input_value() == "rejected"
    outcome.select_option(label="（未设置）")
    element(page, "review").click()
    assert on_reject.input_value() == "route"
    on_reject.select_option(label="结束办件（不予通过）")
    page.get_by_role("button", name="保存").click()
    page.get_by_role("status").filter(has_text="已保存").wait_for()
    saved = client.get(f"{PROCESSES}/two_ends", headers=headers).json["bpmn_xml"]
    assert spiff_properties(saved, "end_no") == {}
    assert spiff_properties(saved, "review") == {"formKey": "review"}
    assert "outcome" not in saved and "onReject" not in saved
    assert re.search(r'<bpmn:endEvent id="end_no"[^>]*>\s*<bpmn:incoming>', saved)   # no empty extension left
