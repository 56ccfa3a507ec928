"""Scale-out (issue 14, item 7): two app instances (two gunicorn masters, each its own worker process) and two
`zhangban worker` processes against one database, in one test. Residents submit through either instance, some
sending the same Idempotency-Key to both at once; each application's process waits on a timer before its
approval step. Then: every key made one application; every timer fired once (the path passes the timer once,
one audit record each); the inbox reads the same from both instances; an approval through one is gone from the
other at once, and a retry of it through the other is refused.
"""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from tests.applications_fixtures import REVIEW_FORM, publish_form, publish_process, publish_service
from tests.worker_processes import start_worker, stop_all, worker_env

pytestmark = pytest.mark.timeout(480)
APPLICATIONS = 16
WAIT_THEN_APPROVE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://z.example">
  <bpmn:collaboration id="c"><bpmn:participant id="p" processRef="wait_approve" /></bpmn:collaboration>
  <bpmn:process id="wait_approve" name="等待后审批" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="approver"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>wait</bpmn:flowNodeRef><bpmn:flowNodeRef>approve</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_def"><bpmn:timeDuration>"PT2S"</bpmn:timeDuration>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="approve" name="审批">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="review" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="approve" />
    <bpmn:sequenceFlow id="f3" sourceRef="approve" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
FORM = {"type": "object", "title": "申请", "required": ["name"], "properties": {
    "name": {"type": "string", "maxLength": 50, "x-ui": {"widget": "text", "label": "姓名"}}}}


def test_two_instances_and_two_workers_share_one_database(app, client, settings, make_staff, make_department,
                                                          resident_headers):
    from core import audit
    from tests.perf.measure import Gunicorn
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance

    department = make_department("scale", "扩容局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": department["id"]}])
    _, approver = make_staff("approver", [{"role": "approver", "department_id": department["id"]}])
    publish_form(client, designer, department["id"], "apply", FORM)
    publish_form(client, designer, department["id"], "review", REVIEW_FORM)
    publish_process(client, designer, department["id"], "wait_approve", WAIT_THEN_APPROVE)
    publish_service(client, designer, "scale", department["id"], "apply", "wait_approve")

    instances = [Gunicorn(settings, workers=1), Gunicorn(settings, workers=1)]
    env = worker_env(settings, WORKER_LEASE_SECONDS=5, WORKER_BATCH=5)
    workers = []
    try:
        for server in instances:
            server.wait_ready()
        workers = [start_worker(env), start_worker(env)]
        a, b = (s.base for s in instances)
        body = {"service_code": "scale", "data": {"name": "张三"}, "submit": True}
        answers: dict[str, list] = {}
        lock = threading.Lock()

        def submit(base, key):
            r = requests.post(base + "/api/v1/applications", json=body, timeout=120,
                              headers={**resident_headers, "Idempotency-Key": key})
            with lock:
                answers.setdefault(key, []).append((r.status_code, r.json().get("id")))

        # each key sent to both instances at once: one creates, the other answers with the same application
        threads = [threading.Thread(target=submit, args=(base, f"key-{n}")) for n in range(APPLICATIONS)
                   for base in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        for key, got in answers.items():
            assert len(got) == 2 and len({i for _, i in got}) == 1, (key, got)
            assert sorted(s for s, _ in got) == [200, 201], (key, got)

        # the two workers fire the timers; the approval steps appear in the inbox of both instances alike
        inbox = {}
        for _ in range(600):
            inbox = {base: requests.get(base + "/api/v1/tasks?page_size=100", headers=approver, timeout=60).json()
                     for base in (a, b)}
            if inbox[a]["total"] == APPLICATIONS and inbox[b]["total"] == APPLICATIONS:
                break
            threading.Event().wait(0.5)
        ids = {base: sorted(t["id"] for t in page["items"]) for base, page in inbox.items()}
        assert len(ids[a]) == APPLICATIONS and ids[a] == ids[b], inbox

        # approve through one instance; the other sees it at once and refuses a retry of the same approval
        first = inbox[a]["items"][0]
        done = requests.post(f"{a}/api/v1/tasks/{first['id']}/complete", headers=approver, timeout=60,
                             json={"version": first["version"], "decision": "approve"})
        assert done.status_code == 200, done.text
        again = requests.post(f"{b}/api/v1/tasks/{first['id']}/complete", headers=approver, timeout=60,
                              json={"version": first["version"], "decision": "approve"})
        assert again.status_code in (404, 409), again.text
        left = requests.get(b + "/api/v1/tasks?page_size=100", headers=approver, timeout=60).json()
        assert first["id"] not in {t["id"] for t in left["items"]} and left["total"] == APPLICATIONS - 1
    finally:
        for server in instances:
            server.stop()
        stop_all(workers)

    with app.app_context():
        assert Application.objects(service_code="scale").count() == APPLICATIONS
        for instance in Instance.objects(key="wait_approve"):
            assert Counter(p["element_id"] for p in instance.path)["wait"] == 1, instance.path
        fires = Counter(r.object_id for r in audit.AuditRecord.objects(action="process.instance.timers"))
        assert len(fires) == APPLICATIONS and set(fires.values()) == {1}, fires
        approved = Application.objects(service_code="scale", status="approved")
        assert approved.count() == 1 and [e.action for e in approved.first().timeline].count("approved") == 1
