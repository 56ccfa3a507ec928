"""`zhangban seed-demo` holds what the docs/bpmn examples need (issue 8, item 5): on a database with only the
demo data, the demo designer uploads, validates, publishes and test-runs every example."""
from __future__ import annotations

from api.demo import DEMO_PASSWORD
from tests.workflows_fixtures import BASE, EXAMPLES, DesignerRun, example

START_DATA = {   # what each example reads at its start (the rest start empty)
    "countersign_all": {"signers": ["li", "wang"]},
    "countersign_veto": {"signers": ["li", "wang"]},
    "countersign_quorum": {"signers": ["a", "b", "c"], "required": 2},
    "call_activity": {"id_number": "110101199003076632", "income": 1800},
    "dmn_decision": {"applicant_type": "normal", "area": 60},
    "user_task_form": {"applicant": "陈静"},
    "return_loop": {"applicant": "陈静"},
}
DMN = {"dmn_decision": ["fee_decision.dmn"]}
ORDER = ["housing_check"]   # a called process is published before its caller


def _seed(app):
    """What `zhangban seed-demo` runs."""
    from api.demo import seed

    with app.app_context():
        return list(seed())


def test_every_example_runs_on_the_demo_data_alone(app, client):
    lines = _seed(app)
    assert any(line.startswith("form review") for line in lines)
    assert list(_seed(app)) == []                       # running it again changes nothing
    r = client.post("/api/v1/auth/login", json={"username": "demo-designer", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {r.json['access_token']}"}
    departments = {d["code"]: d["id"] for d in client.get("/api/v1/departments", headers=headers).json["items"]}
    keys = ORDER + sorted(p.stem for p in EXAMPLES.glob("*.bpmn") if p.stem not in ORDER)
    for key in keys:
        owner = departments["housing" if key == "housing_check" else "civil"]
        dmn = [{"name": name, "xml": example(name)} for name in DMN.get(key, [])]
        r = client.post(BASE, json={"key": key, "name": key, "department": owner, "bpmn_xml": example(f"{key}.bpmn"),
                                    "dmn": dmn}, headers=headers)
        assert r.status_code == 201, (key, r.json)
        r = client.post(f"{BASE}/{key}/validate", json={}, headers=headers)
        assert r.status_code == 200 and r.json["valid"], (key, r.json)
        r = client.post(f"{BASE}/{key}/publish", headers=headers)
        assert r.status_code == 201, (key, r.json)
        run = DesignerRun(client, headers, key, data=START_DATA.get(key, {}))
        assert run.state["status"] in ("running", "completed") and not run.state["incidents"], (key, run.state)
    assert len(keys) == len(list(EXAMPLES.glob("*.bpmn"))) == 12


def test_the_demo_residents_id_number_passes_the_projects_own_check(app):
    from api.identity.models import User
    from core import pii
    from forms.formats import is_cn_id_card

    _seed(app)
    with app.app_context():
        resident = User.objects(openid="demo-openid-resident").first()
        assert is_cn_id_card(pii.cipher().decrypt(resident.id_card_enc, context="id_card"))
