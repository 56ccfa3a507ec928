"""Shared by the process tests: designers, published forms, uploading and publishing the docs/bpmn examples."""
from __future__ import annotations

from pathlib import Path

import pytest

from api.demo import FORMS as DEMO_FORMS

BASE = "/api/v1/designer/processes"
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "bpmn"
FORM_KEYS = tuple(key for key, *_ in DEMO_FORMS)   # the forms the examples name, as `zhangban seed-demo` makes them


def example(name: str) -> str:
    return (EXAMPLES / name).read_text()


def simple_form(title: str) -> dict:
    return {"type": "object", "title": title, "properties": {
        "note": {"type": "string", "x-ui": {"widget": "text", "label": "意见"}}}}


@pytest.fixture
def civil_designer(make_staff, department):
    return make_staff("designer-civil", [{"role": "designer", "department_id": department["id"]}])[1]


@pytest.fixture
def housing(make_department):
    return make_department("housing", "住建局")


@pytest.fixture
def housing_designer(make_staff, housing):
    return make_staff("designer-housing", [{"role": "designer", "department_id": housing["id"]}])[1]


@pytest.fixture
def forms(client, civil_designer, department):
    """The forms the examples' user tasks name (the demo's), published through the forms designer API."""
    for key, title, _, _, schema in DEMO_FORMS:
        r = client.post("/api/v1/designer/forms", json={"key": key, "title": title, "department": department["id"],
                                                        "schema": schema}, headers=civil_designer)
        assert r.status_code == 201, r.json
        r = client.post(f"/api/v1/designer/forms/{key}/publish", headers=civil_designer)
        assert r.status_code == 201, r.json
    return FORM_KEYS


def upload(client, headers, department_id, key, bpmn_xml, dmn=(), name=None):
    r = client.post(BASE, json={"key": key, "name": name or key, "department": department_id,
                                "bpmn_xml": bpmn_xml, "dmn": list(dmn)}, headers=headers)
    assert r.status_code == 201, r.json
    return r


def publish_example(client, headers, department_id, key, dmn=()):
    upload(client, headers, department_id, key, example(f"{key}.bpmn"),
           [{"name": d, "xml": example(d)} for d in dmn])
    r = client.post(f"{BASE}/{key}/publish", headers=headers)
    assert r.status_code == 201, r.json
    return r.json


class DesignerRun:
    """A designer's test run driven over HTTP."""

    def __init__(self, client, headers, key, version=1, data=None):
        self.client, self.headers, self.url = client, headers, f"{BASE}/{key}/versions/{version}/test-runs"
        r = client.post(self.url, json={"data": data or {}}, headers=headers)
        assert r.status_code == 201, r.json
        self.state = r.json
        self.url = f"{self.url}/{self.state['id']}"

    def refresh(self):
        r = self.client.get(self.url, headers=self.headers)
        assert r.status_code == 200, r.json
        self.state = r.json
        return self.state

    @property
    def tasks(self):
        return self.state["ready_tasks"]

    def task(self, element_id, index=0):
        found = [t for t in self.tasks if t["element_id"] == element_id]
        assert len(found) > index, (element_id, [t["element_id"] for t in self.tasks])
        return found[index]

    def complete(self, element_id, data=None, expect=200, index=0, decision="approve"):
        """同意 (or 不同意: decision="reject") with the task form's `data`."""
        task = self.task(element_id, index)
        r = self.client.post(f"{self.url}/tasks/{task['id']}/complete", json={"data": data or {}, "decision": decision},
                             headers=self.headers)
        assert r.status_code == expect, r.json
        if expect == 200:
            self.state = r.json
        return r

    def message(self, name, payload, expect=200):
        r = self.client.post(f"{self.url}/messages", json={"name": name, "payload": payload}, headers=self.headers)
        assert r.status_code == expect, r.json
        if expect == 200:
            self.state = r.json
        return r

    def timers(self, at):
        r = self.client.post(f"{self.url}/timers", json={"at": at.isoformat()}, headers=self.headers)
        assert r.status_code == 200, r.json
        self.state = r.json
        return r

    @property
    def path(self):
        return [p["element_id"] for p in self.state["path"]]
