"""A restored workflow always runs on the sandboxed engine, never SpiffWorkflow's unrestricted default.

The script engine is not serialized. This test stores an instance that waits at a user task followed by a
script that writes a file — a spec put straight into the database, as if it had slipped past upload
validation — and shows both sides: SpiffWorkflow restored the plain way runs the script (the file appears),
while the engine service restores with the sandbox re-attached, refuses it, records an incident, and the
file does not appear.
"""
from __future__ import annotations

import json

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from core.actor import Actor
from workflows.bpmn import instances
from workflows.bpmn.engine import DEFAULT_ENGINE, FULL_SERIALIZER, SERIALIZER, compile_spec, parse_xml
from workflows.bpmn.models import Instance, ProcessVersion
from workflows.bpmn.sandbox import is_sandboxed

XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">
  <bpmn:process id="sneaky" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="attack"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>import os
open(marker, "w").write("pwned")</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="attack" />
    <bpmn:sequenceFlow id="f3" sourceRef="attack" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def _version(xml=XML) -> ProcessVersion:
    compiled = compile_spec([parse_xml(xml)], [], "sneaky")          # validation skipped on purpose
    return ProcessVersion(key="sneaky", version=1, name="sneaky", department="d1", process_id="sneaky",
                          bpmn_xml=xml, spec_json=compiled.to_json()).save()


def test_plain_spiffworkflow_restore_would_run_the_script_unrestricted(tmp_path):
    """The threat, shown without our engine: deserialize and go on, and the file appears."""
    marker = tmp_path / "pwned"
    compiled = compile_spec([parse_xml(XML)], [], "sneaky")
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=DEFAULT_ENGINE.script_engine)
    workflow.get_tasks(state=TaskState.READY)[0].data["marker"] = str(marker)
    workflow.do_engine_steps()
    restored = FULL_SERIALIZER.deserialize_json(FULL_SERIALIZER.serialize_json(workflow))
    assert not is_sandboxed(restored)
    task = restored.get_tasks(state=TaskState.READY, manual=True)[0]
    task.run()
    restored.do_engine_steps()
    assert marker.read_text() == "pwned"


def test_the_engine_service_reattaches_the_sandbox_after_every_restore(app, tmp_path):
    marker = tmp_path / "pwned"
    with app.app_context():
        version = _version()
        instance = instances.start(Actor.system(), version, {"marker": str(marker)})
        assert instance.status == "running"
        state = json.loads(instance.state_json)
        assert "spec" not in state and "subprocess_specs" not in state      # state-only JSON
        restored = DEFAULT_ENGINE.restore(version.spec_json, instance.state_json)
        assert is_sandboxed(restored) and restored.script_engine is DEFAULT_ENGINE.script_engine
        task_id = DEFAULT_ENGINE.ready_tasks(restored)[0]["id"]
        try:
            instances.complete_task(Actor.system(), instance, task_id, {})
            raise AssertionError("the script ran")
        except instances.IncidentRecorded as e:
            assert e.errors[0]["element_id"] == "attack"
        stored = Instance.objects(id=instance.id).first()
        assert stored.status == "incident" and stored.incidents[0].element_id == "attack"
        assert stored.state_json == instance.state_json          # nothing lost: still at the user task
    assert not marker.exists()


def test_state_restores_to_the_same_json(app):
    with app.app_context():
        version = _version()
        instance = instances.start(Actor.system(), version, {"marker": "x", "amount": 5})
        restored = DEFAULT_ENGINE.restore(version.spec_json, instance.state_json)
        assert json.loads(DEFAULT_ENGINE.dump(restored)) == json.loads(instance.state_json)
        assert SERIALIZER.VERSION in instance.state_json
