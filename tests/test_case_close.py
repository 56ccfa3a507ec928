"""A case a person or its bundle closes (撤回, a 一件事 part cancelled) goes through the case-state writer's `close`:
the application first, what the act owes in that write, then the process behind it stops — and a crash between
the two is mended by the worker's next step of that process or by `rebuild-projections`."""
from __future__ import annotations

from tests.applications_fixtures import case  # noqa: F401  (the fixture)


class Crash(Exception):
    pass


def _withdraw_cut_short(case, monkeypatch):
    """The resident withdraws; the process dies between the application's write and stopping its process."""
    from workflows.cases.applications import case_state

    submitted = case.submit()
    assert len(case.todo(case.civil_1)) == 1

    def crash(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(case_state, "stop_behind", crash)
    r = case.client.post(f"/api/v1/applications/{submitted['id']}/withdraw",
                         json={"version": submitted["version"], "reason": "不办了"}, headers=case.resident)
    assert r.status_code == 500                                # the crash, as the app's error handler answers it
    monkeypatch.undo()
    return submitted


def _stored(app_id):
    from workflows.bpmn.models import Instance
    from workflows.cases.applications.models import Application

    application = Application.objects(id=app_id).get()
    return application, Instance.objects(id=application.instance_id).get()


def test_a_withdrawal_carries_its_audit_record_in_the_applications_own_write(case, monkeypatch):
    submitted = _withdraw_cut_short(case, monkeypatch)
    application, instance = _stored(submitted["id"])
    assert application.status == "withdrawn" and application.current_steps == []
    owed = [item["doc"].get("action") for item in application.deferred]
    assert owed.count("application.withdraw") == 1            # written before the crash, with the status
    assert instance.status == "running"                        # what the crash left behind


def test_rebuild_stops_a_process_left_running_behind_a_withdrawn_case(case, monkeypatch):
    from workflows.cases.tasks.models import HumanTask
    from workflows.cases.tasks.rebuild import rebuild

    submitted = _withdraw_cut_short(case, monkeypatch)
    _, instance = _stored(submitted["id"])
    assert rebuild(dry_run=True).stopped_behind_closed == 1
    assert _stored(submitted["id"])[1].status == "running"     # a dry run changes nothing
    report = rebuild()
    assert report.stopped_behind_closed == 1
    assert _stored(submitted["id"])[1].status == "cancelled"
    assert HumanTask.objects(instance_id=instance.id, status__in=("open", "returned")).count() == 0
    assert case.todo(case.civil_1) == []
    assert rebuild().stopped_behind_closed == 0


def test_the_workers_next_step_of_such_a_process_stops_it_instead_of_moving_the_case(case, monkeypatch):
    from workflows.cases.applications import case_state

    submitted = _withdraw_cut_short(case, monkeypatch)
    _, instance = _stored(submitted["id"])
    assert case_state.follow_instance(instance) is False
    application, instance = _stored(submitted["id"])
    assert instance.status == "cancelled" and application.status == "withdrawn"
    assert case.todo(case.civil_1) == []


def test_closing_a_case_that_is_no_longer_open_writes_nothing(case):
    from core import clock
    from core.actor import Actor
    from workflows.cases.applications import case_state
    from workflows.cases.applications.models import Application, Event

    submitted = case.submit()
    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, decision="reject", comment="材料不符")
    application, _ = _stored(submitted["id"])
    assert application.status == "rejected"
    before = application.version
    assert not case_state.close(application, Actor.system(), status="cancelled",
                                event=Event(at=clock.now(), action="cancelled", comment="一件事"))
    after = Application.objects(id=application.id).get()
    assert (after.status, after.version) == ("rejected", before)
