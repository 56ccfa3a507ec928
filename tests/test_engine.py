"""The engine service: conditional writes, incidents without loss, version pinning, the spec cache, timers,
purging test runs."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.actor import Actor
from core.errors import Conflict, NotFound
from workflows.bpmn import due_timers, engine, instances, service, test_runs
from workflows.bpmn.models import Instance
from tests.workflows_fixtures import example

SYSTEM = Actor.system()


def _publish(key, xml, dmn=()):
    if service.ProcessDraft.objects(key=key).first() is None:
        service.create_draft(SYSTEM, key=key, name=key, department="d1", bpmn_xml=xml, dmn=list(dmn))
    else:
        draft = service.ProcessDraft.objects(key=key).first()
        service.update_draft(SYSTEM, key, draft.version, bpmn_xml=xml)
    return service.publish(SYSTEM, key, known_lanes=None)


def _no_forms(monkeypatch):
    # these tests are about the engine; the formKey check has its own tests over HTTP
    monkeypatch.setattr(service, "_form_versions", lambda keys: dict.fromkeys(keys, 1))


@pytest.fixture
def review(app, monkeypatch):
    _no_forms(monkeypatch)
    with app.app_context():
        yield _publish("user_task_form", example("user_task_form.bpmn"))


def test_a_stale_write_is_refused_and_the_instance_is_unchanged(review):
    instance = instances.start(SYSTEM, review, {"n": 1})
    task_id = instances.view(instance)["ready_tasks"][0]["id"]
    stale = Instance.objects(id=instance.id).first()
    instances.complete_task(SYSTEM, instance, task_id, {"decision": "ok"})
    with pytest.raises(Conflict):
        instances.complete_task(SYSTEM, stale, task_id, {"decision": "other"})
    stored = Instance.objects(id=instance.id).first()
    assert stored.status == "completed" and stored.revision == 2
    assert [p["changes"] for p in stored.path if p["element_id"] == "review"] == [{"decision": "ok"}]


def test_completing_a_task_that_is_not_ready_is_404(review):
    instance = instances.start(SYSTEM, review, {})
    with pytest.raises(NotFound):
        instances.complete_task(SYSTEM, instance, "00000000-0000-0000-0000-000000000000", {})
    with pytest.raises(NotFound):
        instances.complete_task(SYSTEM, instance, "not-a-uuid", {})


def test_a_failing_expression_is_an_incident_and_the_instance_survives(app, monkeypatch):
    _no_forms(monkeypatch)
    xml = example("exclusive_gateway.bpmn").replace(' default="f_default"', "")
    xml = xml.replace('<bpmn:sequenceFlow id="f_default" sourceRef="by_amount" targetRef="end_normal" />',
                      '<bpmn:sequenceFlow id="f_default" sourceRef="by_amount" targetRef="end_normal">'
                      '<bpmn:conditionExpression>amount / 0 &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>')
    with app.app_context():
        version = _publish("exclusive_gateway", xml)
        instance = instances.start(SYSTEM, version, {"amount": 5000})
        task_id = instances.view(instance)["ready_tasks"][0]["id"]
        with pytest.raises(instances.IncidentRecorded) as caught:
            instances.complete_task(SYSTEM, instance, task_id, {"decision": "ok"})
        assert caught.value.errors[0]["element_id"] == "by_amount"
        stored = Instance.objects(id=instance.id).first()
        assert stored.status == "incident" and stored.incidents[0].kind == "error"
        assert "division by zero" in stored.incidents[0].message
        view = instances.view(stored)
        assert [t["element_id"] for t in view["ready_tasks"]] == ["review"]        # nothing lost


def test_a_restored_instance_continues_on_the_version_it_started_with(review):
    old = instances.start(SYSTEM, review, {})
    v2 = _publish("user_task_form", example("user_task_form.bpmn").replace('name="窗口审核"', 'name="新版审核"'))
    assert v2.version == 2
    assert instances.view(old)["ready_tasks"][0]["name"] == "窗口审核"
    new = instances.start(SYSTEM, v2, {})
    assert instances.view(new)["ready_tasks"][0]["name"] == "新版审核"
    done = instances.complete_task(SYSTEM, old, instances.view(old)["ready_tasks"][0]["id"], {})
    assert done.process_version_number == 1 and done.status == "completed"


def test_the_three_versions_have_their_own_names_and_keep_their_stored_fields(review):
    instance = instances.start(SYSTEM, review, {})
    done = instances.complete_task(SYSTEM, instance, instances.view(instance)["ready_tasks"][0]["id"], {})
    raw = Instance._get_collection().find_one({"_id": instance.id})
    # stored under the older names, so documents written before the rename still load
    assert (raw["process_version"], raw["version_id"], raw["version"]) == (review.version, review.id, 2)
    assert (done.process_version_number, done.process_version_id, done.revision) == (review.version, review.id, 2)
    assert instances.view(done)["version"] == 2     # the API's name for the revision is unchanged


def test_the_spec_is_parsed_once_and_never_per_request(review, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("re-parsed the BPMN")
    monkeypatch.setattr(engine.spiff, "Parser", refuse)
    # A re-parse would raise inside the engine, and the engine keeps such an error as the instance's incident:
    # say so, instead of failing later on an empty task list.
    instance = instances.start(SYSTEM, review, {})
    assert instance.status == "running" and not instance.incidents
    view = instances.view(instance)
    assert [t["element_id"] for t in view["ready_tasks"]] == ["review"]
    done = instances.complete_task(SYSTEM, instance, view["ready_tasks"][0]["id"], {})
    stored = Instance.objects(id=instance.id).get()
    assert done.status == stored.status == "completed" and not stored.incidents


def test_timers_are_indexed_claimed_once_and_fired(app, monkeypatch):
    _no_forms(monkeypatch)
    with app.app_context():
        version = _publish("boundary_timers", example("boundary_timers.bpmn"))
        instance = instances.start(SYSTEM, version, {})
        due = instance.next_timer_at
        assert timedelta(days=1, hours=23) < due - datetime.now(timezone.utc) < timedelta(days=2, hours=1)
        assert "next_timer_at_1" in Instance._get_collection().index_information()
        assert due_timers.fire_due_timers(now=due - timedelta(minutes=1)) == due_timers.TimerRun()
        assert due_timers.due_ids(now=due + timedelta(minutes=1)) == [instance.id]
        claimed = due_timers.claim(instance.id, now=due + timedelta(minutes=1))
        assert claimed is not None and due_timers.claim(instance.id, now=due + timedelta(minutes=1)) is None  # leased
        # the worker fires with the real clock; here the timer is not yet due by it, so skip ahead explicitly
        fired = instances.fire_timers(SYSTEM, claimed, at=due + timedelta(minutes=1))
        assert "mark_reminded" in [p["element_id"] for p in fired.path]
        assert fired.lease_until is None and fired.next_timer_at > due     # now the 5-day timeout


def test_test_runs_are_purged_after_a_day(review):
    kept = instances.start(SYSTEM, review, {}, is_test=True)
    old = instances.start(SYSTEM, review, {}, is_test=True)
    real = instances.start(SYSTEM, review, {})
    Instance.objects(id=old.id).update_one(set__created_at=datetime.now(timezone.utc) - timedelta(days=1, minutes=1))
    assert test_runs.purge_test_runs() == 1
    assert {str(i.id) for i in Instance.objects} == {str(kept.id), str(real.id)}


def test_messages_nothing_waits_for_are_refused(review):
    from core.errors import Invalid
    instance = instances.start(SYSTEM, review, {})
    with pytest.raises(Invalid):
        instances.deliver_message(SYSTEM, instance, "anything", {})
    assert Instance.objects(id=instance.id).first().revision == instance.revision


def test_the_tick_command_purges_old_test_runs(app, review):
    from api.cli import cli
    old = instances.start(SYSTEM, review, {}, is_test=True)
    Instance.objects(id=old.id).update_one(set__created_at=datetime.now(timezone.utc) - timedelta(days=2))
    result = app.test_cli_runner().invoke(cli, ["workflows", "tick"])
    assert result.exit_code == 0, result.output
    assert "purged 1 test runs" in result.output and Instance.objects.count() == 0
