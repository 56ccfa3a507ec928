"""The engine service against raw SpiffWorkflow on a 30-node process, in the same run.

raw:     restore (state-only JSON + the cached spec) + complete one user task + engine steps + serialize the
         state, with SpiffWorkflow's default (unrestricted) script engine — what the engine does at minimum.
service: load the instance document, then workflows.bpmn.instances.complete_task: restore with the sandbox
         re-attached, the data checks, the sandboxed conditions and scripts, the path record, the conditional
         write and the audit record. Its database time (loading the instance with mongoengine, and the wall time
         of every command inside the MongoDB driver: the conditional write, the audit append) is measured
         separately and excluded.
Also: start to the first wait, and publish (parse + validate + serialize the spec).
Writes tests/perf/results/workflow_engine.json.
"""
from __future__ import annotations

import json
import os
import time

from pymongo.synchronous.mongo_client import MongoClient
from SpiffWorkflow.util.task import TaskState

from core.actor import Actor
from tests.perf.report import percentiles, write_result
from workflows.bpmn import instances, service, validation
from workflows.bpmn.engine import DEFAULT_ENGINE, FULL_SERIALIZER
from workflows.bpmn.models import Instance

ROUNDS = int(os.environ.get("ZB_BENCH_ROUNDS", "300"))
SEGMENTS = 9      # start + 9 × (user task, script, gateway) + 2 end events = 30 nodes
BUDGET = 1.5


def thirty_nodes() -> str:
    nodes, flows = ['<bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>'], []
    previous = ("start", "f_start")
    for k in range(SEGMENTS):
        incoming = previous[1]
        nodes.append(f'<bpmn:userTask id="task_{k}" name="审核 {k}"><bpmn:extensionElements><spiffworkflow:properties>'
                     f'<spiffworkflow:property name="formKey" value="review" /></spiffworkflow:properties>'
                     f'</bpmn:extensionElements><bpmn:incoming>{incoming}</bpmn:incoming>'
                     f'<bpmn:outgoing>f_t{k}</bpmn:outgoing></bpmn:userTask>')
        nodes.append(f'<bpmn:scriptTask id="score_{k}"><bpmn:incoming>f_t{k}</bpmn:incoming>'
                     f'<bpmn:outgoing>f_s{k}</bpmn:outgoing><bpmn:script>score_{k} = amount * {k + 1}\n'
                     f'total = total + score_{k}</bpmn:script></bpmn:scriptTask>')
        nodes.append(f'<bpmn:exclusiveGateway id="gw_{k}" default="f_r{k}"><bpmn:incoming>f_s{k}</bpmn:incoming>'
                     f'<bpmn:outgoing>f_g{k}</bpmn:outgoing><bpmn:outgoing>f_r{k}</bpmn:outgoing>'
                     f'</bpmn:exclusiveGateway>')
        if k == 0:
            flows.append('<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="task_0" />')
        flows += [f'<bpmn:sequenceFlow id="f_t{k}" sourceRef="task_{k}" targetRef="score_{k}" />',
                  f'<bpmn:sequenceFlow id="f_s{k}" sourceRef="score_{k}" targetRef="gw_{k}" />',
                  f'<bpmn:sequenceFlow id="f_r{k}" sourceRef="gw_{k}" targetRef="rejected" />']
        previous = (f"gw_{k}", f"f_g{k}")
    nodes.append(f'<bpmn:endEvent id="done"><bpmn:incoming>{previous[1]}</bpmn:incoming></bpmn:endEvent>')
    nodes.append('<bpmn:endEvent id="rejected">' + "".join(
        f"<bpmn:incoming>f_r{k}</bpmn:incoming>" for k in range(SEGMENTS)) + "</bpmn:endEvent>")
    for k in range(SEGMENTS):
        flows.append(f'<bpmn:sequenceFlow id="f_g{k}" sourceRef="gw_{k}" '
                     f'targetRef="{f"task_{k + 1}" if k + 1 < SEGMENTS else "done"}">'
                     f'<bpmn:conditionExpression>decision == "pass" and total &gt;= 0</bpmn:conditionExpression>'
                     f'</bpmn:sequenceFlow>')
    return ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">'
            '<bpmn:process id="bench30" isExecutable="true">' + "".join(nodes) + "".join(flows)
            + "</bpmn:process></bpmn:definitions>")


class DbTimer:
    """Wall time inside the MongoDB driver: every command's encoding, round trip and decoding."""

    def __init__(self, monkeypatch):
        self.seconds = 0.0
        original = MongoClient._retry_internal

        def timed(client, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original(client, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        monkeypatch.setattr(MongoClient, "_retry_internal", timed)


def _raw(spec_json: str, state_json: str):
    dct = json.loads(state_json)
    FULL_SERIALIZER.migrate(dct)
    specs = json.loads(spec_json)
    dct["spec"], dct["subprocess_specs"] = specs["spec"], specs["subprocess_specs"]
    workflow = FULL_SERIALIZER.from_dict(dct)                    # default script engine: unrestricted
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    task.set_data(decision="pass")
    task.run()
    workflow.do_engine_steps()
    out = FULL_SERIALIZER.to_dict(workflow)
    out.pop("spec"), out.pop("subprocess_specs")
    out[FULL_SERIALIZER.VERSION_KEY] = FULL_SERIALIZER.VERSION
    return json.dumps(out, cls=FULL_SERIALIZER._encoder_cls)


def test_engine_service_against_raw_spiffworkflow(app, settings, monkeypatch):
    monkeypatch.setattr(service, "_form_versions", lambda keys: dict.fromkeys(keys, 1))   # the formKey check is not what we measure
    xml = thirty_nodes()
    ctx = validation.Context(key="bench30", form_version=lambda k: 1)
    result = validation.validate(xml, [], ctx)
    assert result.errors == [], result.errors
    publish_ms = []
    for _ in range(50):
        start = time.perf_counter()
        checked = validation.validate(xml, [], ctx)
        checked.compiled.to_json()
        publish_ms.append((time.perf_counter() - start) * 1000)

    timer = DbTimer(monkeypatch)
    with app.app_context():
        actor = Actor.system()
        service.create_draft(actor, key="bench30", name="bench", department="d1", bpmn_xml=xml)
        version = service.publish(actor, "bench30", known_lanes=None)
        spec_json = service.spec_json(version)

        # start to the first wait: engine only, and the service (DB excluded)
        start_engine = []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            wf = DEFAULT_ENGINE.new(spec_json, {"amount": 10, "total": 0})
            DEFAULT_ENGINE.run(wf)
            DEFAULT_ENGINE.dump(wf)
            start_engine.append((time.perf_counter() - t) * 1000)

        # an instance waiting at the fifth user task, copied for every round
        instance = instances.start(actor, version, {"amount": 10, "total": 0})
        for _ in range(4):
            instance = instances.complete_task(actor, instance, instances.view(instance)["ready_tasks"][0]["id"],
                                               {"decision": "pass"})
        state_json = instance.state_json
        task_id = instances.view(instance)["ready_tasks"][0]["id"]
        assert instances.view(instance)["ready_tasks"][0]["element_id"] == "task_4"
        copies = []
        for _ in range(ROUNDS + 5):
            doc = Instance(key="bench30", process_version_number=1, process_version_id=version.id, department="d1",
                           state_json=state_json, path=instance.path).save()
            copies.append(doc.id)

        raw_ms, service_ms, db_ms, service_start_ms = [], [], [], []
        for i, oid in enumerate(copies):
            t = time.perf_counter()
            _raw(spec_json, state_json)
            raw_elapsed = (time.perf_counter() - t) * 1000

            t = time.perf_counter()
            doc = Instance.objects(id=oid).first()                     # loading it is database time
            load = (time.perf_counter() - t) * 1000
            timer.seconds = 0.0
            t = time.perf_counter()
            done = instances.complete_task(actor, doc, task_id, {"decision": "pass"})
            elapsed = (time.perf_counter() - t) * 1000
            db = timer.seconds * 1000 + load
            assert [t["element_id"] for t in instances.view(done)["ready_tasks"]] == ["task_5"]

            timer.seconds = 0.0
            t = time.perf_counter()
            instances.start(actor, version, {"amount": 10, "total": 0})
            start_elapsed = (time.perf_counter() - t) * 1000 - timer.seconds * 1000
            if i >= 5:                                                  # warm-up
                raw_ms.append(raw_elapsed)
                service_ms.append(elapsed + load - db)
                db_ms.append(db)
                service_start_ms.append(start_elapsed)

    raw, svc = percentiles(raw_ms), percentiles(service_ms)
    ratio = round(svc["p50_ms"] / raw["p50_ms"], 3)
    write_result("workflow_engine", {
        "process_nodes": 30, "rounds": ROUNDS, "state_json_bytes": len(state_json),
        "spec_json_bytes": len(spec_json),
        "raw_restore_complete_serialize": raw,
        "service_complete_db_excluded": svc,
        "service_db_time": percentiles(db_ms),
        "ratio_service_to_raw_p50": ratio, "budget": BUDGET,
        "start_to_first_wait_engine": percentiles(start_engine),
        "start_to_first_wait_service_db_excluded": percentiles(service_start_ms),
        "publish_parse_validate_serialize": percentiles(publish_ms),
    })
    assert ratio <= BUDGET, f"service {svc['p50_ms']} ms vs raw {raw['p50_ms']} ms"
