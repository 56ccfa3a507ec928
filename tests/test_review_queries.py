"""Round trips and partial writes found in review: batched look-ups, one bulk write, no spurious 409s."""
from __future__ import annotations

from tests.commands import counting_commands
from tests.workflows_fixtures import BASE, civil_designer, forms, upload  # noqa: F401 (fixtures)

HEAD = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" targetNamespace="http://z" id="d">'
        '<bpmn:process id="many_tasks" isExecutable="true"><bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing>'
        '</bpmn:startEvent>')


def many_tasks(form_keys, calls=()) -> str:
    nodes, flows, previous = [], [], "start"
    steps = [("userTask", f"t{i}", key) for i, key in enumerate(form_keys)] + \
            [("callActivity", f"c{i}", target) for i, target in enumerate(calls)]
    for index, (kind, node_id, ref) in enumerate(steps):
        props = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formKey" '
                 f'value="{ref}" /></spiffworkflow:properties></bpmn:extensionElements>') if kind == "userTask" else ""
        called = f' calledElement="{ref}"' if kind == "callActivity" else ""
        nodes.append(f'<bpmn:{kind} id="{node_id}"{called}>{props}<bpmn:incoming>f{index}</bpmn:incoming>'
                     f'<bpmn:outgoing>f{index + 1}</bpmn:outgoing></bpmn:{kind}>')
        flows.append(f'<bpmn:sequenceFlow id="f{index}" sourceRef="{previous}" targetRef="{node_id}" />')
        previous = node_id
    end = len(steps)
    flows.append(f'<bpmn:sequenceFlow id="f{end}" sourceRef="{previous}" targetRef="end" />')
    return (HEAD + "".join(nodes) + f'<bpmn:endEvent id="end"><bpmn:incoming>f{end}</bpmn:incoming></bpmn:endEvent>'
            + "".join(flows) + "</bpmn:process></bpmn:definitions>")


def test_validation_looks_up_forms_and_called_processes_in_one_batch(client, settings, civil_designer, forms,
                                                                      department):
    keys = [("review", "countersign", "supplement", "nowhere")[i % 4] for i in range(40)]
    xml = many_tasks(keys, calls=[f"missing_{i}" for i in range(10)])
    upload(client, civil_designer, department["id"], "many_tasks", xml)
    with counting_commands(settings) as counts:
        r = client.post(f"{BASE}/many_tasks/validate", json={}, headers=civil_designer)
    assert r.status_code == 200
    problems = r.json["errors"]
    assert sorted({e["element_id"] for e in problems if e["code"] == "form_not_published"}) == \
        sorted(f"t{i}" for i in range(3, 40, 4))
    assert len([e for e in problems if e["code"] == "unknown_process"]) == 10
    form_reads = counts[("find", "form_versions")] + counts[("find", "form_drafts")]
    process_reads = counts[("find", "process_versions")]
    # was 2 per user task (80); the third reads the bound versions' fields, once (a form may not define decision)
    assert form_reads <= 3, counts
    assert process_reads <= 4, counts       # was 2 per call activity plus the id check: 21


def test_a_test_run_action_restores_the_workflow_once(client, civil_designer, forms, department, monkeypatch):
    from tests.workflows_fixtures import DesignerRun, publish_example
    from workflows.bpmn import instances

    publish_example(client, civil_designer, department["id"], "user_task_form")
    restores = []
    real = instances.ENGINE.restore
    monkeypatch.setattr(instances.ENGINE, "restore", lambda *a, **k: restores.append(1) or real(*a, **k))
    run = DesignerRun(client, civil_designer, "user_task_form")
    assert run.tasks and restores == []                               # start: shown from the live workflow
    task = run.tasks[0]["element_id"]
    run.complete(task, {"reason": "同意"})
    assert restores == [1] and run.state["status"] in ("running", "completed")   # was 2: act, then view


def test_a_timer_claim_does_not_make_a_persons_action_a_conflict(client, civil_designer, forms, department):
    from datetime import timedelta

    from tests.workflows_fixtures import DesignerRun, publish_example
    from workflows.bpmn import due_timers
    from workflows.bpmn.models import Instance

    publish_example(client, civil_designer, department["id"], "boundary_timers")
    run = DesignerRun(client, civil_designer, "boundary_timers")
    seen = run.state["version"]
    stored = Instance.objects(id=run.state["id"]).get()
    claimed = due_timers.claim(stored.id, now=stored.next_timer_at + timedelta(minutes=1))     # a worker takes the instance's lease …
    assert claimed is not None and claimed.revision == seen and claimed.lease_until is not None
    task = run.task("review")
    r = client.post(f"{run.url}/tasks/{task['id']}/complete", json={"data": {"reason": "同意"}, "version": seen},
                    headers=civil_designer)
    assert r.status_code == 200, r.json                               # … and the approver's action still holds
    assert r.json["version"] == seen + 1 and "review" in [p["element_id"] for p in r.json["path"]]
