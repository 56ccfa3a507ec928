"""Identity fields come from the verified identity, and personal data is masked by its data class (issue 23, items 3
and 8): `x-prefill: profile.*` fields take the verified profile whatever the client sends; results name the
verified holder; `x-ui.mask` masks an ID number, phone, address or bank card in any text field for staff; the
statistics CSV does not let a name run as a spreadsheet formula."""
from __future__ import annotations

import copy
import io

import pypdf
import pytest

from tests.applications_fixtures import (APPLY_FORM, ID_CARD, case, good_data,  # noqa: F401 (fixture)
                                         publish_form, publish_service)
from tests.materials_fixtures import materials_case  # noqa: F401 (fixture)
from tests.stats_fixtures import flush

VERIFIED_PHONE = "13912345678"
OTHER_ID_CARD = "110101199003076632"

PREFILLED_FORM = copy.deepcopy(APPLY_FORM)
PREFILLED_FORM["title"] = "实名申领"
for name, slot in (("name", "profile.name"), ("id_card", "profile.id_card"), ("phone", "profile.phone")):
    PREFILLED_FORM["properties"][name]["x-prefill"] = slot        # prefilled, but not read-only: the phone can type

CLASSED_FORM = copy.deepcopy(APPLY_FORM)
CLASSED_FORM["title"] = "补贴申领"
CLASSED_FORM["properties"].update({
    "other_id": {"type": "string", "x-ui": {"widget": "text", "label": "配偶证件号", "mask": "id-card"}},
    "bank": {"type": "string", "x-ui": {"widget": "text", "label": "银行卡号", "mask": "bank-card"}},
    "home": {"type": "string", "x-ui": {"widget": "text", "label": "家庭住址", "mask": "address"}},
    "contact": {"type": "string", "x-ui": {"widget": "text", "label": "联系电话", "mask": "mobile"}}})


def _verify(app, user_id, *, name="张三", id_card=ID_CARD, phone=VERIFIED_PHONE):
    """The resident's verified identity, as real-name verification leaves it on their account."""
    with app.app_context():
        from api.identity.models import User
        from core import pii
        from core.clock import parse_id
        cipher = pii.cipher()
        User.objects(id=parse_id(user_id)).update_one(
            set__real_name=name, set__id_card_enc=cipher.encrypt(id_card, context="id_card"),
            set__id_card_hash=cipher.lookup_hash(id_card), set__phone_enc=cipher.encrypt(phone, context="phone"),
            set__phone_hash=cipher.lookup_hash(phone))


def _me(case):
    return case.client.get("/api/v1/me", headers=case.resident).json["id"]


def test_a_verified_resident_cannot_apply_as_someone_else(case, app):
    publish_form(case.client, case.designer, case.civil["id"], "verified_apply", PREFILLED_FORM)
    publish_service(case.client, case.designer, "verified", case.civil["id"], "verified_apply", "residence_permit",
                    name="实名申领")
    _verify(app, _me(case))
    r = case.client.post("/api/v1/applications", headers=case.resident, json={
        "service_code": "verified", "submit": True,
        "data": good_data(name="李四", id_card=OTHER_ID_CARD, phone="13700000000")})
    assert r.status_code == 201, r.json
    assert (r.json["data"]["name"], r.json["data"]["id_card"], r.json["data"]["phone"]) == (
        "张三", ID_CARD, VERIFIED_PHONE)
    [task] = case.todo(case.civil_1)
    seen = case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.civil_1).json
    assert seen["data"]["id_card"] == "110***********002X" and seen["data"]["phone"] == "139****5678"


def _approve(case, app_id):
    [task] = [t for t in case.todo(case.civil_1) if t["application_id"] == app_id]
    case.act(case.civil_1, task)
    [task] = [t for t in case.todo(case.housing_1) if t["application_id"] == app_id]
    case.act(case.housing_1, task)
    flask_app = case.client.application
    with flask_app.app_context():
        from workflows.cases.materials import results
        assert results.issue_due(flask_app.extensions["zhangban"].store) == 1


def test_a_result_names_the_verified_holder_not_the_name_typed(materials_case, app):
    case = materials_case
    _verify(app, _me(case))
    submitted = case.submit(good_data(name="李四"))             # a form whose name field is not prefilled
    _approve(case, submitted["id"])
    [licence] = [m for m in case.client.get("/api/v1/materials", headers=case.resident).json
                 if m["source"] == "licence"]
    r = case.client.get(f"/api/v1/attachments/{licence['attachment_id']}/content", headers=case.resident)
    text = pypdf.PdfReader(io.BytesIO(case.client.get(r.headers["Location"]).data)).pages[0].extract_text()
    assert "张三" in text and "李四" not in text
    r = case.client.get("/api/v1/licences/verify",
                        query_string={"number": licence["number"], "hash": licence["content_hash"]})
    assert r.json["valid"] is True and r.json["holder_name"] == "张*"


def test_masking_follows_the_data_class_declared_in_the_form(case):
    publish_form(case.client, case.designer, case.civil["id"], "classed_apply", CLASSED_FORM)
    publish_service(case.client, case.designer, "classed", case.civil["id"], "classed_apply", "residence_permit",
                    name="补贴申领")
    data = good_data(other_id=OTHER_ID_CARD, bank="6222 0212 3456 7890", home="北京市东城区人民路 1 号 2 单元 301",
                     contact="13700137000")
    r = case.client.post("/api/v1/applications", headers=case.resident,
                         json={"service_code": "classed", "submit": True, "data": data})
    assert r.status_code == 201, r.json
    assert r.json["data"]["other_id"] == OTHER_ID_CARD and r.json["data"]["bank"] == "6222 0212 3456 7890"
    [task] = case.todo(case.civil_1)
    seen = case.client.get(f"/api/v1/tasks/{task['id']}", headers=case.civil_1).json["data"]
    assert seen["other_id"] == "110***********6632" and seen["contact"] == "137****7000"
    assert seen["bank"] == "************7890" and seen["home"].startswith("北京市东城") and "301" not in seen["home"]
    assert seen["address"] == "人民路 1 号" and seen["months"] == 12       # fields of no class stay whole


@pytest.mark.parametrize("node, code", [
    ({"type": "integer", "x-ui": {"widget": "integer", "mask": "id-card"}}, "invalid_mask"),
    ({"type": "string", "x-ui": {"widget": "text", "mask": "passport"}}, "invalid_mask"),
])
def test_the_form_language_checks_a_data_class(node, code):
    from forms import language

    _, errors = language.analyze({"type": "object", "properties": {"f": node}}, keep_form=True)
    assert [(e["path"], e["code"]) for e in errors] == [("/properties/f/x-ui/mask", code)]


def test_the_statistics_csv_does_not_run_a_name_as_a_formula(case, admin_headers, app):
    submitted = case.submit()
    flush(case)
    with app.app_context():
        from api.identity.models import Department
        from core.clock import parse_id
        from workflows.cases.stats.models import Rollup
        Department.objects(id=parse_id(case.civil["id"])).update_one(set__name="=HYPERLINK(\"http://x\",\"a\")")
        Rollup.objects(service_code="residence").update(set__service_name="@SUM(1+1)")
    day = submitted["submitted_at"][:10]
    from datetime import date, timedelta
    query = {"from": (date.fromisoformat(day) - timedelta(days=1)).isoformat(),
             "to": (date.fromisoformat(day) + timedelta(days=1)).isoformat(), "group": "service"}
    r = case.client.get("/api/v1/stats/export.csv", query_string=query, headers=admin_headers)
    assert r.status_code == 200
    import csv
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\",\"a\")" and rows[1][2] == "'@SUM(1+1)"
    assert rows[1][1] == "residence" and rows[1][3] == "1"       # other cells as they were
