"""Shared by the services (事项) tests: a published application form and process, and a service body."""
from __future__ import annotations

import copy

import pytest

from tests.workflows_fixtures import publish_example

BASE = "/api/v1/designer/services"
CATALOGUE = "/api/v1/services"

RESIDENCE_FORM = {
    "type": "object", "title": "居住证申领", "required": ["name", "id_photo"],
    "properties": {
        "name": {"type": "string", "x-ui": {"widget": "text", "label": "姓名"}},
        "id_card": {"type": "string", "x-ui": {"widget": "id-card", "label": "身份证号"}},
        "id_photo": {"type": "string", "x-ui": {"widget": "photo", "label": "身份证照片"}},
        "signature": {"type": "string", "x-ui": {"widget": "signature", "label": "签名"}},
        "family": {"type": "array", "x-ui": {"widget": "repeat", "label": "家庭成员"},
                   "items": {"type": "object", "properties": {
                       "member_photo": {"type": "string", "x-ui": {"widget": "photo", "label": "照片"}}}}},
    },
}


def publish_form(client, headers, department_id, key="residence", schema=None):
    r = client.post("/api/v1/designer/forms", json={"key": key, "title": key, "department": department_id,
                                                    "schema": schema or RESIDENCE_FORM}, headers=headers)
    assert r.status_code == 201, r.json
    r = client.post(f"/api/v1/designer/forms/{key}/publish", headers=headers)
    assert r.status_code == 201, r.json
    return r.json


@pytest.fixture
def bound(client, civil_designer, department, forms):
    """A published form (residence v1) and process (user_task_form v1) of the civil department."""
    publish_form(client, civil_designer, department["id"])
    publish_example(client, civil_designer, department["id"], "user_task_form")
    return {"form_key": "residence", "form_version": 1, "process_key": "user_task_form", "process_version": 1}


def service_body(department_id, bound, code="jzz-001", **changes) -> dict:
    body = {
        "code": code, "department": department_id, "name": "居住证申领", "name_en": "Residence permit application",
        "category": "户籍", "description": "来深人员申领居住证，全程网办。", "description_en": "Apply online.",
        "materials": [
            {"name": "身份证照片", "name_en": "ID photo", "field": "/id_photo", "attachment_kind": "photo",
             "originals_needed": True},
            {"name": "本人签名", "field": "/signature", "attachment_kind": "signature"},
            {"name": "租赁合同", "attachment_kind": "document", "required": False},
        ],
        "time_limit_days": 10, "statutory_limit_days": 20, "fee_fen": 0, "handling": "online",
        "regions": ["440300"], **bound,
    }
    body.update(copy.deepcopy(changes))
    return body


def create(client, headers, body, expect=201):
    r = client.post(BASE, json=body, headers=headers)
    assert r.status_code == expect, r.json
    return r


def publish(client, headers, code, expect=201, **extra):
    r = client.post(f"{BASE}/{code}/publish", headers={**headers, **extra})
    assert r.status_code == expect, r.json
    return r
