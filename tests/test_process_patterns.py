"""Every supported BPMN pattern (docs/bpmn/*.bpmn), published and driven through designers' test runs."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.workflows_fixtures import DesignerRun, publish_example
from tests.workflows_fixtures import civil_designer, forms, housing, housing_designer  # noqa: F401 (fixtures)


@pytest.fixture
def civil(client, civil_designer, department, forms):
    def publish(key, dmn=()):
        return publish_example(client, civil_designer, department["id"], key, dmn)
    return publish


def test_user_task_with_form(client, civil_designer, civil):
    version = civil("user_task_form")
    assert version["user_tasks"] == [{"element_id": "review", "name": "窗口审核", "form_key": "review",
                                      "form_version": 1}]
    run = DesignerRun(client, civil_designer, "user_task_form", data={"applicant": "张三"})
    task = run.task("review")
    assert (task["lane"], task["form_key"], task["form_version"]) == ("civil", "review", 1)
    assert task["data"] == {"applicant": "张三"}
    run.complete("review", {"reason": "材料齐全"})
    assert run.state["status"] == "completed" and run.tasks == []
    assert run.path == ["start", "review", "end"]
    # the form's data, then the action's variables (the 同意 button): docs/bpmn.md, "办结结果"
    assert run.state["path"][1]["changes"] == {"reason": "材料齐全", "decision": "approve", "approved": True}
    assert (run.state["end_event"], run.state["outcome"]) == ("end", "approved")


@pytest.mark.parametrize("amount, end, extra", [("20000", "leader_review", None), ("10000.00", "leader_review", None),
                                                ("500", "end_fast", "mark_fast"), ("5000.5", "end_normal", None)])
def test_exclusive_gateway_with_conditions_and_a_default_flow(client, civil_designer, civil, amount, end, extra):
    civil("exclusive_gateway")
    run = DesignerRun(client, civil_designer, "exclusive_gateway")
    run.complete("review", {"amount": amount})     # as the money field sends it: text
    if end == "leader_review":
        assert [t["element_id"] for t in run.tasks] == ["leader_review"]
        assert run.task("leader_review")["lane"] == "approver"
        return
    assert run.state["status"] == "completed"
    assert run.path[-1] == end and (extra is None or extra in run.path)
    if extra:
        script_step = run.state["path"][run.path.index("mark_fast")]
        assert script_step["changes"] == {"fast_track": True, "fee": "5.00"}


def test_parallel_split_and_join_across_two_lanes(client, civil_designer, civil, housing):
    civil("parallel_lanes")
    run = DesignerRun(client, civil_designer, "parallel_lanes")
    assert sorted((t["element_id"], t["lane"]) for t in run.tasks) == [("civil_check", "civil"),
                                                                        ("housing_check", "housing")]
    run.complete("housing_check", {"reason": "无房"})
    assert [t["element_id"] for t in run.tasks] == ["civil_check"] and run.state["status"] == "running"
    run.complete("civil_check")
    assert run.state["status"] == "completed" and run.path[-2:] == ["join", "end"]


def _sign(run, opinions):
    for opinion in opinions:
        run.complete("countersign", {"opinion": opinion})


def test_countersign_all_must_approve(client, civil_designer, civil):
    civil("countersign_all")
    run = DesignerRun(client, civil_designer, "countersign_all", data={"signers": ["li", "wang", "zhao"]})
    assert sorted(t["data"]["signer"] for t in run.tasks) == ["li", "wang", "zhao"]
    _sign(run, ["approve", "approve", "approve"])
    assert run.state["status"] == "completed" and run.path[-1] == "approved"
    run = DesignerRun(client, civil_designer, "countersign_all", data={"signers": ["li", "wang"]})
    _sign(run, ["approve", "reject"])
    assert run.path[-1] == "rejected"


def test_countersign_one_veto_ends_it(client, civil_designer, civil):
    civil("countersign_veto")
    run = DesignerRun(client, civil_designer, "countersign_veto", data={"signers": ["li", "wang", "zhao"]})
    run.complete("countersign", {"opinion": "approve"})
    run.complete("countersign", {"opinion": "veto"})
    assert run.state["status"] == "completed" and run.tasks == []     # zhao's task was cancelled
    assert run.path[-1] == "rejected"


def _signer_task(run, signer):
    return next(i for i, t in enumerate(run.tasks) if t["data"]["signer"] == signer)


def test_countersign_at_least_n_of_m_in_parallel(client, civil_designer, civil):
    civil("countersign_quorum")
    run = DesignerRun(client, civil_designer, "countersign_quorum",
                      data={"signers": ["a", "b", "c", "d", "e"], "required": 2})
    assert sorted(t["data"]["signer"] for t in run.tasks) == ["a", "b", "c", "d", "e"]   # all at once
    run.complete("countersign", {"opinion": "approve"}, index=_signer_task(run, "c"))
    run.complete("countersign", {"opinion": "reject"}, index=_signer_task(run, "e"))
    assert sorted(t["data"]["signer"] for t in run.tasks) == ["a", "b", "d"] and run.state["status"] == "running"
    run.complete("countersign", {"opinion": "approve"}, index=_signer_task(run, "a"))    # 2 of 5: decided
    assert run.state["status"] == "completed" and run.tasks == [] and run.path[-1] == "approved"


def test_countersign_n_of_m_ends_as_soon_as_n_cannot_be_reached(client, civil_designer, civil):
    civil("countersign_quorum")
    run = DesignerRun(client, civil_designer, "countersign_quorum", data={"signers": ["a", "b", "c"], "required": 2})
    run.complete("countersign", {"opinion": "reject"}, index=_signer_task(run, "b"))
    assert len(run.tasks) == 2
    run.complete("countersign", {"opinion": "reject"}, index=_signer_task(run, "a"))    # 2 of 3 is out of reach
    assert run.state["status"] == "completed" and run.tasks == [] and run.path[-1] == "rejected"


def test_interrupting_and_non_interrupting_boundary_timers(client, civil_designer, civil):
    civil("boundary_timers")
    run = DesignerRun(client, civil_designer, "boundary_timers")
    now = datetime.now(timezone.utc)
    due = datetime.fromisoformat(run.task("review")["due_at"])
    assert timedelta(days=1, hours=23) < due - now < timedelta(days=2, hours=1)   # the earliest timer
    assert datetime.fromisoformat(run.state["next_timer_at"]) == due

    run.timers(now + timedelta(days=1))                      # nothing due yet
    assert "remind" not in run.path and [t["element_id"] for t in run.tasks] == ["review"]
    run.timers(now + timedelta(days=3))                      # the reminder fires; the review stays open
    assert ["remind", "mark_reminded", "reminder_sent"] == [p for p in run.path if p in
                                                            ("remind", "mark_reminded", "reminder_sent")]
    assert [t["element_id"] for t in run.tasks] == ["review"]
    run.timers(now + timedelta(days=6))                      # the timeout cancels the review
    assert [t["element_id"] for t in run.tasks] == ["escalated_review"]
    assert run.task("escalated_review")["lane"] == "approver"
    run.complete("escalated_review")
    assert run.state["status"] == "completed" and "done" not in run.path


def test_a_return_loop_to_an_earlier_task(client, civil_designer, civil):
    civil("return_loop")
    run = DesignerRun(client, civil_designer, "return_loop", data={"applicant": "张三"})
    run.complete("review", {"reason": "缺少户口本"}, decision="reject")     # routed: back to the applicant
    task = run.task("supplement")
    assert task["lane"] == "resident" and task["data"]["reason"] == "缺少户口本"
    run.complete("supplement", {"note": "已补交户口本"})
    assert run.task("review")["data"]["note"] == "已补交户口本"
    run.complete("review")
    assert run.state["status"] == "completed" and run.state["outcome"] == "approved"
    assert run.path == ["start", "review", "decision", "supplement", "review", "decision", "end"]


def test_a_call_activity_into_another_departments_process_passes_only_its_io_data(
        client, civil_designer, civil, housing, housing_designer):
    publish_example(client, housing_designer, housing["id"], "housing_check")
    version = civil("call_activity")
    assert version["calls"] == {"housing_check": "housing_check@1"}
    run = DesignerRun(client, civil_designer, "call_activity",
                  data={"id_number": "11010519491231002X", "income": 1800, "phone": "13800138000"})
    task = run.task("verify")
    assert task["lane"] == "housing"
    assert task["data"] == {"id_number": "11010519491231002X"}           # income and phone stay home
    run.complete("verify", {"has_housing": False, "housing_notes": "查无房产"})
    data = run.task("decide")["data"]
    assert data["has_housing"] is False and "housing_notes" not in data and data["income"] == 1800


@pytest.mark.parametrize("data, fee, channel", [({"applicant_type": "low_income", "area": 120}, 0, "green"),
                                                ({"applicant_type": "normal", "area": 60}, 80, "normal"),
                                                ({"applicant_type": "normal", "area": 100}, 150, "normal")])
def test_a_dmn_decision(client, civil_designer, civil, data, fee, channel):
    civil("dmn_decision", dmn=["fee_decision.dmn"])
    run = DesignerRun(client, civil_designer, "dmn_decision", data=data)
    task = run.task("confirm")
    assert (task["data"]["fee"], task["data"]["channel"]) == (fee, channel)


def test_a_message_catch_event(client, civil_designer, civil):
    civil("message_catch")
    run = DesignerRun(client, civil_designer, "message_catch")
    assert run.tasks == [] and run.state["waiting_messages"] == ["materials_supplemented"]
    run.message("not_this_one", {}, expect=422)
    run.message("materials_supplemented", {"files": ["a.pdf"]})
    assert run.task("review")["data"]["supplement"] == {"files": ["a.pdf"]}
    assert run.state["waiting_messages"] == []
