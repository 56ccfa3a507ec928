"""Review of the engine service: regressions for defects found in review (each test failed before its fix)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.actor import Actor
from core.errors import Invalid
from workflows.bpmn import due_timers, instances, service
from workflows.bpmn.models import Instance, ProcessDraft, ProcessVersion
from tests.workflows_fixtures import example
from tests.workflows_fixtures import civil_designer, forms, housing, housing_designer  # noqa: F401 (fixtures)

SYSTEM = Actor.system()

HEADER = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
          'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">')
FORM = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formKey" value="review" />'
        '</spiffworkflow:properties></bpmn:extensionElements>')


def _publish(key, xml):
    draft = ProcessDraft.objects(key=key).first()
    if draft is None:
        service.create_draft(SYSTEM, key=key, name=key, department="d1", bpmn_xml=xml)
    else:
        service.update_draft(SYSTEM, key, draft.version, bpmn_xml=xml)
    return service.publish(SYSTEM, key, known_lanes=None)


@pytest.fixture
def engine_only(app, monkeypatch):
    # these tests are about the engine; the formKey check has its own tests over HTTP
    monkeypatch.setattr(service, "_form_versions", lambda keys: dict.fromkeys(keys, 1))
    with app.app_context():
        yield


def _script_then_wait(script: str) -> str:
    return (HEADER + '<bpmn:process id="scripted" isExecutable="true">'
            '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
            f'<bpmn:scriptTask id="calc"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
            f'<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
            f'<bpmn:userTask id="review">{FORM}<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
            '</bpmn:userTask><bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="review" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end" />'
            '</bpmn:process></bpmn:definitions>')


def _wait_then_script(script: str) -> str:
    return (HEADER + '<bpmn:process id="waited" isExecutable="true">'
            '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
            f'<bpmn:userTask id="review">{FORM}<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
            '</bpmn:userTask><bpmn:scriptTask id="calc"><bpmn:incoming>f2</bpmn:incoming>'
            f'<bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
            '<bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="calc" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="end" />'
            '</bpmn:process></bpmn:definitions>')


# -- data MongoDB cannot store, from scripts or form data ------------------------------------------------------

def test_a_script_making_a_huge_integer_starts_and_records_it(engine_only):
    version = _publish("scripted", _script_then_wait("big = 10 ** 30"))
    instance = instances.start(SYSTEM, version, {})
    stored = Instance.objects(id=instance.id).first()
    assert stored.status == "running"
    assert [p["changes"] for p in stored.path if p["element_id"] == "calc"] == [{"big": str(10 ** 30)}]
    view = instances.view(stored)
    assert view["ready_tasks"][0]["data"]["big"] == 10 ** 30     # the data itself keeps the number


def test_form_data_keys_mongodb_refuses_are_kept_in_the_path_escaped(engine_only):
    version = _publish("user_task_form", example("user_task_form.bpmn"))
    instance = instances.start(SYSTEM, version, {})
    task_id = instances.view(instance)["ready_tasks"][0]["id"]
    with pytest.raises(Invalid):     # cannot be stored at all: refused, the instance unchanged
        instances.complete_task(SYSTEM, instance, task_id, {"text": "\ud800"})
    done = instances.complete_task(SYSTEM, instance, task_id, {"$where": "x", "a\x00b": 1, "n": 2 ** 70, "a.b": "é"})
    stored = Instance.objects(id=done.id).first()
    assert stored.status == "completed"
    changes = [p["changes"] for p in stored.path if p["element_id"] == "review"][0]
    assert changes == {"\uff04where": "x", "a\ufffdb": 1, "n": str(2 ** 70), "a.b": "é"}


def test_a_script_making_an_unpaired_surrogate_is_an_incident_not_a_500(engine_only):
    version = _publish("scripted", _script_then_wait('bad = "\\ud800"'))
    instance = instances.start(SYSTEM, version, {})
    stored = Instance.objects(id=instance.id).first()
    assert stored.status == "incident" and stored.incidents[0].kind == "data_limit"
    assert "surrogate" in stored.incidents[0].message


def test_start_data_the_state_cannot_hold_is_refused(engine_only):
    version = _publish("user_task_form", example("user_task_form.bpmn"))
    with pytest.raises(Invalid):
        instances.start(SYSTEM, version, {"text": "\udc00"})
    assert Instance.objects.count() == 0


def test_the_state_size_limit_counts_bytes_not_characters():
    """MongoDB stores UTF-8: 4,000 Chinese characters are 12,000 bytes, over a 10,000-byte limit."""
    from workflows.bpmn.engine import Engine, compile_spec, parse_xml
    from workflows.bpmn.limits import DataLimitExceeded, Limits
    from workflows.bpmn.sandbox import Sandbox
    engine = Engine(Sandbox(Limits(max_state_bytes=10_000)))
    xml = example("user_task_form.bpmn")
    spec = compile_spec([parse_xml(xml)], [], "user_task_form").to_json()
    workflow = engine.new(spec, {"note": "审" * 1_000})
    engine.run(workflow)
    assert len(engine.dump(workflow)) < 10_000
    workflow = engine.new(spec, {"note": "审" * 4_000})
    engine.run(workflow)
    with pytest.raises(DataLimitExceeded):
        engine.dump(workflow)


# -- publishing recovers from a crash between its two writes ----------------------------------------------------

def test_a_publish_that_crashed_before_moving_the_draft_does_not_block_the_next(engine_only):
    first = _publish("user_task_form", example("user_task_form.bpmn"))
    # the crash: version 1 is stored, the draft never learnt of it
    ProcessDraft.objects(key="user_task_form").update_one(set__published_version=None, set__status="draft")
    second = service.publish(SYSTEM, "user_task_form", known_lanes=None)
    assert (first.version, second.version) == (1, 2)
    draft = ProcessDraft.objects(key="user_task_form").first()
    assert draft.published_version == 2 and draft.status == "published"
    assert [v.version for v in ProcessVersion.objects(key="user_task_form").order_by("version")] == [1, 2]


# -- timers and messages the engine waits for, whatever event holds them ------------------------------------------

def _review_with_reminder(timer: str) -> str:
    """A review with a non-interrupting timer on its boundary that runs a script each time it fires."""
    return (HEADER + '<bpmn:process id="reminders" isExecutable="true">'
            '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
            f'<bpmn:userTask id="review">{FORM}<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
            '</bpmn:userTask>'
            '<bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">'
            f'<bpmn:outgoing>f3</bpmn:outgoing><bpmn:timerEventDefinition id="remind_timer">{timer}'
            '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            '<bpmn:scriptTask id="count"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>'
            '<bpmn:script>reminders = 1</bpmn:script></bpmn:scriptTask>'
            '<bpmn:endEvent id="reminded"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="count" />'
            '<bpmn:sequenceFlow id="f4" sourceRef="count" targetRef="reminded" />'
            '</bpmn:process></bpmn:definitions>')


def test_a_cycle_timer_is_scheduled_and_fired_by_the_worker(engine_only):
    version = _publish("reminders", _review_with_reminder('<bpmn:timeCycle>"R2/PT1H"</bpmn:timeCycle>'))
    instance = instances.start(SYSTEM, version, {})
    first = instance.next_timer_at
    assert first is not None, "a cycle timer was never scheduled: the worker would never fire it"
    assert timedelta(minutes=59) < first - datetime.now(timezone.utc) < timedelta(minutes=61)
    assert instances.view(instance)["ready_tasks"][0]["due_at"] == first
    assert due_timers.fire_due_timers(now=first + timedelta(minutes=1)).fired == 1
    stored = Instance.objects(id=instance.id).first()
    assert [p["element_id"] for p in stored.path].count("count") == 1
    second = stored.next_timer_at.replace(tzinfo=timezone.utc)     # the second cycle (MongoDB keeps milliseconds)
    assert abs(second - first - timedelta(hours=1)) < timedelta(milliseconds=1)
    assert [t["element_id"] for t in instances.view(stored)["ready_tasks"]] == ["review"]


def _gateway(key: str) -> str:
    """An event-based gateway: whichever comes first, the supplement message or a 2-day timeout."""
    return (HEADER + '<bpmn:message id="supplemented" name="supplemented" />'
            f'<bpmn:process id="{key}" isExecutable="true">'
            '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
            '<bpmn:eventBasedGateway id="gw"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
            '<bpmn:outgoing>f3</bpmn:outgoing></bpmn:eventBasedGateway>'
            '<bpmn:intermediateCatchEvent id="got_it"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>'
            '<bpmn:messageEventDefinition id="got_it_def" messageRef="supplemented"><bpmn:extensionElements>'
            '<spiffworkflow:messageVariable>supplement</spiffworkflow:messageVariable></bpmn:extensionElements>'
            '</bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:intermediateCatchEvent id="too_late"><bpmn:incoming>f3</bpmn:incoming>'
            '<bpmn:outgoing>f5</bpmn:outgoing><bpmn:timerEventDefinition id="too_late_def">'
            '<bpmn:timeDuration>"P2D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            f'<bpmn:userTask id="review">{FORM}<bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>'
            '</bpmn:userTask>'
            '<bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:endEvent id="closed"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="rejected" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="got_it" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="too_late" />'
            '<bpmn:sequenceFlow id="f4" sourceRef="got_it" targetRef="review" />'
            '<bpmn:sequenceFlow id="f5" sourceRef="too_late" targetRef="closed" />'
            '<bpmn:sequenceFlow id="f6" sourceRef="review" targetRef="end" />'
            '</bpmn:process></bpmn:definitions>')


def test_an_event_based_gateway_waits_for_its_message_and_its_timer(engine_only):
    version = _publish("first_of", _gateway("first_of"))
    by_message = instances.start(SYSTEM, version, {})
    assert by_message.waiting_messages == ["supplemented"]
    due = by_message.next_timer_at
    assert due is not None and timedelta(days=1, hours=23) < due - datetime.now(timezone.utc) < timedelta(days=2, hours=1)
    done = instances.deliver_message(SYSTEM, by_message, "supplemented", {"files": ["a.pdf"]})
    assert [t["data"]["supplement"] for t in instances.view(done)["ready_tasks"]] == [{"files": ["a.pdf"]}]
    assert done.next_timer_at is None and done.waiting_messages == []

    by_timer = instances.start(SYSTEM, version, {})
    fired = instances.fire_timers(SYSTEM, by_timer, at=due + timedelta(minutes=1))
    assert fired.status == "completed" and fired.path[-1]["element_id"] == "closed"


def test_each_countersign_is_in_the_path_as_it_happens(engine_only):
    version = _publish("countersign_all", example("countersign_all.bpmn"))
    instance = instances.start(SYSTEM, version, {"signers": ["li", "wang"]})
    task = instances.view(instance)["ready_tasks"][0]
    signed = instances.complete_task(SYSTEM, instance, task["id"], {"opinion": "approve"})
    assert [(p["element_id"], p["changes"].get("opinion")) for p in signed.path][-1] == ("countersign", "approve")
    assert signed.status == "running"


def test_a_fired_timer_still_waiting_for_its_message_is_not_claimed_again_and_again(engine_only):
    """A parallel multiple event waits for a timer and a message; once the timer has fired it is not due again."""
    from core import audit
    xml = (HEADER + '<bpmn:message id="m" name="signed" /><bpmn:process id="both" isExecutable="true">'
           '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
           '<bpmn:intermediateCatchEvent id="wait" parallelMultiple="true"><bpmn:incoming>f1</bpmn:incoming>'
           '<bpmn:outgoing>f2</bpmn:outgoing><bpmn:messageEventDefinition id="md" messageRef="m" />'
           '<bpmn:timerEventDefinition id="td"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>'
           '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
           '<bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
           '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />'
           '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" /></bpmn:process></bpmn:definitions>')
    instance = instances.start(SYSTEM, _publish("both", xml), {})
    later = instance.next_timer_at + timedelta(minutes=1)
    assert due_timers.fire_due_timers(now=later) == due_timers.TimerRun(fired=1)
    assert due_timers.fire_due_timers(now=later + timedelta(hours=1)) == due_timers.TimerRun()
    stored = Instance.objects(id=instance.id).first()
    assert stored.next_timer_at is None and stored.waiting_messages == ["signed"] and stored.lease_until is None
    assert len(audit.query(action="process.instance.timers")) == 1
    assert instances.deliver_message(SYSTEM, stored, "signed", {}).status == "completed"


# -- what an instance keeps grows within bounds ---------------------------------------------------------------------

def test_a_path_entry_stays_small_however_much_data_a_step_changes(engine_only):
    """Path entries are kept 2,000 deep beside a state of up to 10 MB: each must stay small, or a few large
    submissions in a return loop outgrow MongoDB's 16 MB document and every later action fails."""
    import json
    version = _publish("user_task_form", example("user_task_form.bpmn"))
    instance = instances.start(SYSTEM, version, {})
    task_id = instances.view(instance)["ready_tasks"][0]["id"]
    data = {f"field_{n:05}_{'k' * 80}": "v" * 200 for n in range(5_000)}
    done = instances.complete_task(SYSTEM, instance, task_id, data)
    entry = [p for p in Instance.objects(id=done.id).first().path if p["element_id"] == "review"][0]
    assert len(json.dumps(entry["changes"], ensure_ascii=False)) < 2_000
    assert entry["changes"]["…"] == f"{5_000 - len(entry['changes']) + 1} more"


def test_incidents_are_kept_to_the_latest(engine_only, monkeypatch):
    monkeypatch.setattr(instances, "MAX_INCIDENTS", 3)
    version = _publish("waited", _wait_then_script("x = 1 / zero"))
    instance = instances.start(SYSTEM, version, {"zero": 0})
    task_id = instances.view(instance)["ready_tasks"][0]["id"]
    for attempt in range(5):
        instance = Instance.objects(id=instance.id).first()
        with pytest.raises(instances.IncidentRecorded):
            instances.complete_task(SYSTEM, instance, task_id, {"attempt": attempt})
    stored = Instance.objects(id=instance.id).first()
    assert len(stored.incidents) == 3 and stored.revision == 6


def test_an_instance_that_cannot_be_restored_is_an_incident_and_the_worker_goes_on(engine_only):
    version = _publish("boundary_timers", example("boundary_timers.bpmn"))
    broken = instances.start(SYSTEM, version, {})
    healthy = instances.start(SYSTEM, version, {})
    Instance.objects(id=broken.id).update_one(set__state_json='{"tasks": "not a workflow"}')
    later = healthy.next_timer_at + timedelta(minutes=1)
    # raised out of the tick before: nothing else fired
    assert due_timers.fire_due_timers(now=later) == due_timers.TimerRun(fired=1, failed=1)
    stored = Instance.objects(id=broken.id).first()
    assert stored.status == "incident"
    seen = instances.view(stored)          # the incident can be read (this was a 500 too)
    assert seen["ready_tasks"] == [] and seen["incidents"][0].action == "timers"
    assert "mark_reminded" in [p["element_id"] for p in Instance.objects(id=healthy.id).first().path]


def test_a_failed_completion_does_not_stop_the_tasks_deadline(engine_only):
    """The failed attempt changed nothing: the review still waits, and its 2-day timeout must still fire."""
    xml = _wait_then_script("x = 1 / zero").replace(
        '<bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements>',
        '<bpmn:boundaryEvent id="timeout" attachedToRef="review"><bpmn:outgoing>f9</bpmn:outgoing>'
        '<bpmn:timerEventDefinition id="timeout_def"><bpmn:timeDuration>"P2D"</bpmn:timeDuration>'
        '</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="late"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="rejected" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f9</bpmn:incoming>'
        '</bpmn:endEvent><bpmn:sequenceFlow id="f9" sourceRef="timeout" targetRef="late" /><bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements>')
    instance = instances.start(SYSTEM, _publish("waited", xml), {})
    task_id = instances.view(instance)["ready_tasks"][0]["id"]
    with pytest.raises(instances.IncidentRecorded):
        instances.complete_task(SYSTEM, instance, task_id, {"zero": 0})
    assert due_timers.fire_due_timers(now=instance.next_timer_at + timedelta(minutes=1)).fired == 1
    stored = Instance.objects(id=instance.id).first()
    assert stored.status == "completed" and stored.path[-1]["element_id"] == "late"


def test_a_timer_that_fails_is_not_retried_every_tick(engine_only):
    xml = _review_with_reminder('<bpmn:timeDuration>"PT1H"</bpmn:timeDuration>').replace(
        "<bpmn:script>reminders = 1</bpmn:script>", "<bpmn:script>reminders = 1 / zero</bpmn:script>")
    instance = instances.start(SYSTEM, _publish("reminders", xml), {"zero": 0})
    later = instance.next_timer_at + timedelta(minutes=1)
    assert due_timers.fire_due_timers(now=later) == due_timers.TimerRun(failed=1)     # counted apart from fired
    assert due_timers.fire_due_timers(now=later + timedelta(minutes=10)) == due_timers.TimerRun()
    stored = Instance.objects(id=instance.id).first()
    assert stored.status == "incident" and len(stored.incidents) == 1 and stored.incidents[0].element_id == "count"
    # a person acting on it goes on as before: the review is still there
    assert [t["element_id"] for t in instances.view(stored)["ready_tasks"]] == ["review"]


def test_another_departments_designer_cannot_see_or_move_a_test_run(client, civil_designer, department, forms,
                                                                      housing_designer, admin_headers):
    from tests.workflows_fixtures import BASE, DesignerRun, publish_example
    publish_example(client, civil_designer, department["id"], "user_task_form")
    run = DesignerRun(client, civil_designer, "user_task_form")
    task_id = run.task("review")["id"]
    assert client.get(run.url, headers=housing_designer).status_code == 404
    for tail, body in ((f"/tasks/{task_id}/complete", {"data": {}}), ("/timers", {}), ("/messages", {"name": "m"})):
        r = client.post(run.url + tail, json=body, headers=housing_designer)
        assert r.status_code == 404, tail
    real = instances.start(SYSTEM, service.published_version("user_task_form", 1), {})   # not a test run
    assert client.get(f"{BASE}/user_task_form/versions/1/test-runs/{real.id}", headers=civil_designer).status_code == 404
    assert run.refresh()["version"] == 1 and client.get(run.url, headers=admin_headers).status_code == 200


# -- the spec cache and the sandbox on every restore path -----------------------------------------------------------

def test_each_version_restores_from_its_own_cached_spec(engine_only):
    v1 = _publish("user_task_form", example("user_task_form.bpmn"))
    old = instances.start(SYSTEM, v1, {})
    v2 = _publish("user_task_form", example("user_task_form.bpmn").replace('name="窗口审核"', 'name="新版审核"'))
    new = instances.start(SYSTEM, v2, {})
    # the stored specs are not read again: both come from the cache, each under its own version
    ProcessVersion.objects(key="user_task_form").update(set__spec_json="{}")
    assert instances.view(old)["ready_tasks"][0]["name"] == "窗口审核"
    assert instances.view(new)["ready_tasks"][0]["name"] == "新版审核"
    task_id = instances.view(old)["ready_tasks"][0]["id"]
    assert instances.complete_task(SYSTEM, old, task_id, {}).status == "completed"


ATTACK = 'open(marker, "w").write("pwned")'


def _unvalidated(key: str, xml: str) -> ProcessVersion:
    """A version stored without upload validation, as if a script had slipped past it."""
    from workflows.bpmn.engine import compile_spec, parse_xml
    return ProcessVersion(key=key, version=1, name=key, department="d1", process_id=key, bpmn_xml=xml,
                          spec_json=compile_spec([parse_xml(xml)], [], key).to_json()).save()


@pytest.mark.parametrize("wait", ["message", "timer"])
def test_messages_and_timers_run_on_the_sandbox_after_a_restore(app, tmp_path, wait):
    marker = tmp_path / "pwned"
    definition = ('<bpmn:messageEventDefinition id="wd" messageRef="m" />' if wait == "message" else
                  '<bpmn:timerEventDefinition id="wd"><bpmn:timeDuration>"P1D"</bpmn:timeDuration>'
                  '</bpmn:timerEventDefinition>')
    xml = (HEADER + '<bpmn:message id="m" name="go" /><bpmn:process id="sneaky" isExecutable="true">'
           '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
           f'<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
           f'{definition}</bpmn:intermediateCatchEvent>'
           f'<bpmn:scriptTask id="attack"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
           f'<bpmn:script>{ATTACK}</bpmn:script></bpmn:scriptTask>'
           '<bpmn:endEvent id="end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="approved" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'
           '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />'
           '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="attack" />'
           '<bpmn:sequenceFlow id="f3" sourceRef="attack" targetRef="end" /></bpmn:process></bpmn:definitions>')
    with app.app_context():
        instance = instances.start(SYSTEM, _unvalidated("sneaky", xml), {"marker": str(marker)})
        assert instance.status == "running"
        with pytest.raises(instances.IncidentRecorded) as caught:
            if wait == "message":
                instances.deliver_message(SYSTEM, instance, "go", {})
            else:
                instances.fire_timers(SYSTEM, instance, instance.next_timer_at + timedelta(minutes=1))
        assert caught.value.errors[0]["element_id"] == "attack"
    assert not marker.exists()


def test_a_call_activitys_subprocess_runs_on_the_sandbox_after_a_restore(engine_only):
    from workflows.bpmn.engine import DEFAULT_ENGINE
    from workflows.bpmn.sandbox import SandboxScriptEngine
    _publish("housing_check", example("housing_check.bpmn"))
    version = _publish("call_activity", example("call_activity.bpmn"))
    instance = instances.start(SYSTEM, version, {"id_number": "11010519491231002X"})
    workflow = DEFAULT_ENGINE.restore(service.spec_json(version), instance.state_json)
    assert workflow.subprocesses, "the call activity should be waiting inside its subprocess"
    assert all(isinstance(sp.script_engine, SandboxScriptEngine) for sp in workflow.subprocesses.values())
