"""Issue 23: the longest comment the API allows, sent to every approver action that takes one, is stored whole and
never gives a 500 (timeline lines put a short lead before it: the line's limit leaves room, workflows/cases/
applications/models.py `Event.line`)."""
from __future__ import annotations

import pytest

from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)
from tests.stats_fixtures import rate, reject
from tests.test_case_incidents import FAILING_TIMER, fire, incident_tasks
from tests.test_case_outcomes import people, serve  # noqa: F401 (fixture)
from tests.test_countersign import _picked, joint  # noqa: F401 (fixture)

LONG = "意" * 2000          # the schemas' limit for a comment or a reason


def _id(case, headers):
    return case.client.get("/api/v1/me", headers=headers).json["id"]


def _line(case, submitted, action):
    return [e for e in case.application(submitted["id"])["timeline"] if e["action"] == action][-1]


def _first(case, headers):
    [task] = case.todo(headers)
    return task


def test_the_longest_comment_one_over_refused(case):
    case.submit()
    task = _first(case, case.civil_1)
    error = case.act(case.civil_1, task, comment=LONG + "x", expect=422)
    assert error["errors"][0]["path"] == "/comment"


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_approve_and_reject(case, decision):
    submitted = case.submit()
    case.act(case.civil_1, _first(case, case.civil_1), decision=decision, comment=LONG)
    assert _line(case, submitted, "approved" if decision == "approve" else "rejected")["comment"] == LONG
    if decision == "reject":
        assert case.application(submitted["id"])["result"]["reason"] == LONG


def test_batch_approve(case):
    submitted = case.submit()
    task = _first(case, case.civil_1)
    r = case.client.post("/api/v1/tasks/batch-complete", headers=case.civil_1, json={
        "decision": "approve", "comment": LONG, "items": [{"id": task["id"], "version": task["version"]}]})
    assert r.status_code == 200 and r.json["results"][0]["status"] == 200, r.json
    assert _line(case, submitted, "approved")["comment"] == LONG


def test_return_for_correction_and_to_an_earlier_step(case):
    submitted = case.submit()
    case.act(case.civil_1, _first(case, case.civil_1))
    case.act(case.housing_1, _first(case, case.housing_1), action="return-to", element_id="review", comment=LONG)
    assert _line(case, submitted, "sent_back")["comment"] == LONG
    case.act(case.civil_1, _first(case, case.civil_1), action="return", reason=LONG, fields=[{"path": "/address"}])
    shown = case.application(submitted["id"])
    assert shown["return_request"]["reason"] == LONG and _line(case, submitted, "returned")["comment"] == LONG


@pytest.mark.parametrize("action", ["transfer", "delegate"])
def test_transfer_and_delegate_and_the_hand_back(case, action):
    submitted = case.submit()
    moved = case.act(case.civil_1, _first(case, case.civil_1), action=action, user_id=_id(case, case.civil_2),
                     comment=LONG)
    assert _line(case, submitted, "transferred" if action == "transfer" else "delegated")["comment"].endswith(
        "：" + LONG)
    if action == "delegate":
        back = case.act(case.civil_2, moved, decision="reject", comment=LONG)    # the delegate's opinion
        assert back["status"] == "open" and back["assignee"] == _id(case, case.civil_1)
        assert _line(case, submitted, "delegate_done")["comment"] == "不同意：" + LONG


@pytest.mark.parametrize("position", ["before", "after"])
def test_add_signer(case, position):
    submitted = case.submit()
    moved = case.act(case.civil_1, _first(case, case.civil_1), action="add-signer", user_id=_id(case, case.civil_2),
                     position=position, comment=LONG)
    assert _line(case, submitted, "signer_added")["comment"].endswith("：" + LONG)
    if position == "before":
        case.act(case.civil_2, moved, comment=LONG)
        assert _line(case, submitted, "signed")["comment"] == "同意：" + LONG
    else:
        assert _line(case, submitted, "approved")["comment"] == LONG      # my opinion, before the signer decides


def test_carbon_copy(case, app):
    from workflows.cases.tasks.models import CarbonCopy

    submitted = case.submit()
    task = _first(case, case.civil_1)
    r = case.client.post(f"/api/v1/tasks/{task['id']}/cc", headers=case.civil_1,
                         json={"user_ids": [_id(case, case.housing_1)], "comment": LONG})
    assert r.status_code == 200 and r.json == {"copied": 1}, r.json
    assert _line(case, submitted, "cc")["comment"] == "1 人：" + LONG
    with app.app_context():
        assert CarbonCopy.objects.get().comment == LONG


def test_a_bad_ratings_follow_up(case, app):
    from workflows.cases.ratings.models import Rating

    submitted = case.submit()
    reject(case, submitted)
    rate(case, submitted["id"], 1, comment="差")
    [task] = [t for t in case.todo(case.civil_2) if t["kind"] == "rating_followup"]
    case.act(case.civil_2, task, comment=LONG)
    with app.app_context():
        assert Rating.objects.get().reply.comment == LONG


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_an_incident_retried_or_ended(people, decision):
    case = serve(people, "failing_timer", FAILING_TIMER)
    submitted = case.submit()
    fire()
    [task] = incident_tasks(case, case.civil_1)
    case.act(case.civil_1, task, decision=decision, comment=LONG)
    line = _line(case, submitted, "incident_retried" if decision == "approve" else "rejected")
    assert line["comment"].startswith(LONG) if decision == "approve" else line["comment"] == LONG


def test_removing_a_countersigner(joint):
    submitted = _picked(joint, "h1", "h2", "h3")
    [h3_task] = joint.todo(joint.h3)
    joint.act(joint.h4, h3_task, action="remove-signer", comment=LONG)
    assert _line(joint, submitted, "signer_removed")["comment"].endswith(LONG)
