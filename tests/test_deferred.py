"""Audit records and messages an application's change owes ride in that change's own write (core/deferred.py):
no insert of their own on the request, nothing lost between the change and its records, nothing written twice."""
from __future__ import annotations

from bson import ObjectId

from core import audit, deferred
from core.db import database
from tests.applications_fixtures import case, good_data  # noqa: F401 — the fixture
from tests.stats_fixtures import return_and_supplement, withdraw


def _raw(app, app_id):
    with app.app_context():
        return database()["applications"].find_one({"_id": ObjectId(app_id)})


def _written(app, app_id):
    """The audit records and messages about one application that are in their own collections."""
    with app.app_context():
        db = database()
        records = db["audit"].count_documents({"$or": [{"details.application": app_id},
                                                      {"object_type": "application", "object_id": app_id}]})
        return {"audit": records, "messages": db["notifications"].count_documents({"application_id": app_id})}


def test_submit_and_decision_carry_their_records_until_the_worker_moves_them(case, app):
    submitted = case.submit(good_data(months=3))
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, decision="reject", comment="不满六个月")
    carried = _raw(app, submitted["id"])
    # the submit's audit record and messages (the applicant's; "a task opened" to the department's two approvers)
    # ride in the application; the decision's audit record and the applicant's message in the instance's write,
    # the decision's first durable write
    assert sorted(item["doc"].get("action") or item["doc"]["kind"] for item in carried["deferred"]) == [
        "application.submit", "submitted", "task_assigned", "task_assigned"]
    assert carried["deferred_due_at"] is not None
    with app.app_context():
        instance = database()["process_instances"].find_one({"_id": carried["instance_id"]})
    assert sorted(item["to"] for item in instance["deferred"]) == ["audit", "notifications"]
    assert [item["doc"].get("action") or item["doc"]["kind"] for item in instance["deferred"]] == \
        ["task.reject", "rejected"]
    assert instance["deferred_due_at"] is not None
    assert _written(app, submitted["id"]) == {"audit": 0, "messages": 0}     # no request inserted them

    with app.app_context():
        assert deferred.deliver() == 6
        assert deferred.deliver() == 0
    assert _written(app, submitted["id"]) == {"audit": 2, "messages": 4}
    after = _raw(app, submitted["id"])
    assert after["deferred"] == [] and "deferred_due_at" not in after
    with app.app_context():
        audit.seal()
        assert audit.verify().ok                   # moved in later than they happened, chained like any other
        kinds = sorted(n["kind"] for n in database()["notifications"].find({"application_id": submitted["id"]}))
        actions = sorted(r["action"] for r in database()["audit"].find(
            {"$or": [{"details.application": submitted["id"]}, {"object_id": submitted["id"]}]}))
    assert kinds == ["rejected", "submitted", "task_assigned", "task_assigned"]
    assert actions == ["application.submit", "task.reject"]


def test_a_delivery_that_stopped_halfway_is_repeated_without_writing_anything_twice(case, app):
    submitted = case.submit(good_data(months=7))
    carried = _raw(app, submitted["id"])
    with app.app_context():
        assert deferred.deliver() == 4
        # as if the worker had stopped after its inserts, before it pulled the records out of the application
        database()["applications"].update_one({"_id": carried["_id"]}, {"$set": {
            "deferred": carried["deferred"], "deferred_due_at": carried["deferred_due_at"]}})
        assert deferred.deliver() == 4          # inserted again: their fixed ids make every insert a no-op
    assert _written(app, submitted["id"]) == {"audit": 1, "messages": 3}
    assert _raw(app, submitted["id"])["deferred"] == []


def test_a_record_added_while_a_delivery_runs_waits_for_the_next(case, app):
    from workflows.cases.applications.models import Application
    from workflows.cases.notify import service as notify

    submitted = case.submit(good_data(months=7))
    with app.app_context():
        waiting = deferred.read_due(Application, 10)
        assert [str(d["_id"]) for d in waiting] == [submitted["id"]]
        late = notify.messages("urged", ["someone"], title="催办", dedupe=f"late:{submitted['id']}")
        Application.objects(id=submitted["id"]).update_one(
            **deferred.carry(late, waiting[0]["deferred_due_at"]))
        assert deferred.move(Application, waiting) == 4           # what it read: the submit's four
        left = _raw(app, submitted["id"])
        assert [item["doc"]["kind"] for item in left["deferred"]] == ["urged"]
        assert left["deferred_due_at"] is not None                 # still due: the next round moves it
        assert deferred.deliver() == 1
    assert _raw(app, submitted["id"])["deferred"] == []


def test_the_worker_moves_them_in_its_round_and_metrics_show_what_waits(case, app):
    from workflows.cases import worker

    submitted = case.submit(good_data(months=7))
    with app.app_context():
        before = worker.backlog()
        assert before["deferred_due"] == 1 and before["deferred_lag_seconds"] >= 0
        worker.Worker(idle_seconds=0).run_round()
        assert worker.backlog()["deferred_due"] == 0
    assert _written(app, submitted["id"]) == {"audit": 1, "messages": 3}


def test_return_supplement_and_withdraw_carry_theirs_too(case, app):
    def carried(app_id):
        return sorted((item["to"], item["doc"].get("action") or item["doc"].get("kind"))
                      for item in _raw(app, app_id)["deferred"])

    submitted = case.submit()
    return_and_supplement(case, submitted)
    opened = [("notifications", "task_assigned")] * 2      # the review, to the department's two approvers
    assert carried(submitted["id"]) == [
        ("audit", "application.submit"), ("audit", "application.supplement"), ("audit", "task.return"),
        ("notifications", "returned"), ("notifications", "submitted"), *opened]

    other = case.submit(good_data(months=9))
    withdraw(case, other)
    assert carried(other["id"]) == [("audit", "application.submit"), ("audit", "application.withdraw"),
                                    ("notifications", "submitted"), *opened]
    with app.app_context():
        assert deferred.deliver() == 12
    assert _written(app, other["id"]) == {"audit": 2, "messages": 3}
