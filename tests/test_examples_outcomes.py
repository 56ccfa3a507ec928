"""The shipped examples (docs/bpmn/) published as services and driven to each of their ends through the
applications and tasks API, as residents and approvers use them: the case's status is the outcome its end declares
(docs/bpmn.md, "办结结果"). The countersign examples take their signers from start data a resident's form does not
carry; tests/test_countersign.py drives the same shape over HTTP."""
from __future__ import annotations

from datetime import timedelta

import pytest

from api.demo import FORMS as DEMO_FORMS
from tests.applications_fixtures import good_data, publish_form, publish_process, publish_service, staffed
from tests.workflows_fixtures import example


@pytest.fixture
def city(app, client, make_staff, make_department, resident_headers):
    """The residence-permit case's people and forms, and the demo's forms the examples name (its `review` stands in
    for the demo's)."""
    staff = staffed(client, make_staff, make_department, resident_headers)
    for key, title, _, _, schema in DEMO_FORMS:
        if key != "review":
            publish_form(client, staff.designer, staff.civil["id"], key, {**schema, "title": title})
    return staff


def walk(city, key, steps):
    """Submit to the example's service and take `steps`: (who, element, decision, data) or ("timers", days)."""
    from core import clock
    from workflows.cases.applications import case_state

    publish_process(city.client, city.designer, city.civil["id"], key, example(f"{key}.bpmn"))
    publish_service(city.client, city.designer, key, city.civil["id"], "residence_apply", key, name=key)
    r = city.client.post("/api/v1/applications", headers=city.resident,
                         json={"service_code": key, "submit": True, "data": good_data()})
    assert r.status_code == 201, r.json
    for step in steps:
        if step[0] == "timers":
            assert case_state.fire_due_timers(now=clock.now() + timedelta(days=step[1])).fired >= 1
            continue
        who, element, decision, data = step
        [task] = [t for t in city.todo(getattr(city, who)) if t["element_id"] == element]
        city.act(getattr(city, who), task, decision=decision, comment="意见", data=data)
    return r.json["id"]


PATHS = {
    "user_task_form approved": ("user_task_form", [("civil_1", "review", "approve", {})], "approved", "end"),
    "user_task_form 不同意": ("user_task_form", [("civil_1", "review", "reject", {})], "rejected", "review"),
    "exclusive_gateway to the leader": ("exclusive_gateway", [
        ("civil_1", "review", "approve", {"amount": "20000"}), ("civil_1", "leader_review", "approve", {})],
        "approved", "end_leader"),
    "exclusive_gateway fast": ("exclusive_gateway", [("civil_1", "review", "approve", {"amount": "500"})],
                               "approved", "end_fast"),
    "exclusive_gateway default": ("exclusive_gateway", [("civil_1", "review", "approve", {"amount": "5000"})],
                                  "approved", "end_normal"),
    "parallel_lanes both agree": ("parallel_lanes", [("housing_1", "housing_check", "approve", {}),
                                                     ("civil_1", "civil_check", "approve", {})], "approved", "end"),
    "parallel_lanes one 不同意": ("parallel_lanes", [("housing_1", "housing_check", "reject", {})],
                                "rejected", "housing_check"),
    "return_loop back and forth": ("return_loop", [
        ("civil_1", "review", "reject", {"reason": "缺户口本"}), ("civil_1", "supplement", "approve", {"note": "已补交"}),
        ("civil_1", "review", "approve", {})], "approved", "end"),
    "boundary_timers in time": ("boundary_timers", [("civil_1", "review", "approve", {})], "approved", "done"),
    "boundary_timers escalated": ("boundary_timers", [("timers", 8), ("civil_1", "escalated_review", "approve", {})],
                                  "approved", "escalated_done"),
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_each_example_ends_the_case_as_its_end_declares(city, path):
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance

    key, steps, status, end = PATHS[path]
    app_id = walk(city, key, steps)
    shown = city.application(app_id)
    instance = Instance.objects(id=Application.objects(id=app_id).get().instance_id).get()
    assert (shown["status"], shown["result"]["decision"], instance.end_event) == (status, status, end)
    assert shown["current_steps"] == [] and city.todo(city.civil_1) == [] and city.todo(city.housing_1) == []
