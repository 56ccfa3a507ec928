"""免申即享: a published DMN decision grants eligible residents once per period; they confirm or decline."""
from __future__ import annotations

from tests.conftest import bearer
from tests.time_fixtures import frozen_clock  # noqa: F401 (fixture)

POLICIES = "/api/v1/designer/policies"

ELDERLY = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="http://z.example">
  <decision id="elderly_allowance" name="高龄津贴">
    <decisionTable id="t" hitPolicy="FIRST">
      <input id="i_age" label="年龄"><inputExpression id="e_age"><text>age</text></inputExpression></input>
      <input id="i_hukou" label="户籍"><inputExpression id="e_hukou"><text>hukou</text></inputExpression></input>
      <input id="i_lic" label="居住证"><inputExpression id="e_lic">
        <text>"residence" in licences</text></inputExpression></input>
      <output id="o_ok" name="eligible" />
      <output id="o_amount" name="amount" />
      <rule id="r_local"><inputEntry id="a1"><text>&gt;= 80</text></inputEntry>
        <inputEntry id="b1"><text>"110101"</text></inputEntry>
        <inputEntry id="c1"><text>-</text></inputEntry>
        <outputEntry id="x1"><text>True</text></outputEntry><outputEntry id="y1"><text>300</text></outputEntry></rule>
      <rule id="r_permit"><inputEntry id="a2"><text>&gt;= 80</text></inputEntry>
        <inputEntry id="b2"><text>-</text></inputEntry>
        <inputEntry id="c2"><text>True</text></inputEntry>
        <outputEntry id="x2"><text>True</text></outputEntry><outputEntry id="y2"><text>200</text></outputEntry></rule>
      <rule id="r_no"><inputEntry id="a3"><text>-</text></inputEntry>
        <inputEntry id="b3"><text>-</text></inputEntry>
        <inputEntry id="c3"><text>-</text></inputEntry>
        <outputEntry id="x3"><text>False</text></outputEntry><outputEntry id="y3"><text>0</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


def _policy(client, headers, department_id, dmn=ELDERLY, code="elderly", expect=201, **extra):
    r = client.post(POLICIES, headers=headers, json={
        "code": code, "name": "高龄津贴", "benefit": "每月发放高龄津贴", "department": department_id,
        "dmn_xml": dmn, "decision_id": "elderly_allowance", "period": "year", **extra})
    assert r.status_code == expect, r.json
    return r.json


def _profile(client, admin, user_id, **body):
    r = client.put(f"/api/v1/admin/resident-profiles/{user_id}", json=body, headers=admin)
    assert r.status_code == 200, r.json
    return r.json


def _evaluate(client, admin, **body):
    r = client.post("/api/v1/admin/policies/evaluate", json=body, headers=admin)
    assert r.status_code == 200, r.json
    return r.json


def _resident(resident_login, openid):
    token = resident_login(openid)
    return token, bearer(token["access_token"])


def _user_id(client, headers):
    return client.get("/api/v1/me", headers=headers).json["id"]


def test_eligible_residents_are_granted_once_notified_and_answer_in_the_app(
        client, make_staff, make_department, admin_headers, resident_login, frozen_clock):
    civil = make_department("civil", "民政局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    _policy(client, designer, civil["id"])
    assert _evaluate(client, admin_headers)["policies"] == 0          # a draft decides nobody
    assert client.post(f"{POLICIES}/elderly/publish", headers=designer).status_code == 201

    _, old_local = _resident(resident_login, "old-local")
    _, old_elsewhere = _resident(resident_login, "old-elsewhere")
    _, young = _resident(resident_login, "young")
    ids = {name: _user_id(client, h) for name, h in
           (("old_local", old_local), ("old_elsewhere", old_elsewhere), ("young", young))}
    _profile(client, admin_headers, ids["old_local"], birth_date="1940-03-01", district="110101", hukou="110101")
    _profile(client, admin_headers, ids["old_elsewhere"], birth_date="1941-03-01", district="110101", hukou="320102")
    _profile(client, admin_headers, ids["young"], birth_date="1990-03-01", district="110101", hukou="110101")

    # the period is the year in China: at 00:30 on New Year's Day in Beijing it is still 2025 in UTC
    frozen_clock.china("2026-01-01 00:30")
    run = _evaluate(client, admin_headers, batch=2)                   # two batches
    assert (run["residents"], run["eligible"], run["granted"]) == (3, 1, 1)
    [grant] = client.get("/api/v1/me/grants", headers=old_local).json
    assert grant["status"] == "offered" and grant["outputs"] == {"eligible": True, "amount": 300}
    assert grant["inputs"]["age"] >= 80 and grant["inputs"]["hukou"] == "110101"
    assert grant["period"] == "2026"
    assert client.get("/api/v1/me/grants", headers=young).json == []
    messages = client.get("/api/v1/me/messages", headers=old_local).json["items"]
    assert [m["kind"] for m in messages] == ["grant_offered"] and "高龄津贴" in messages[0]["title"]

    # again: nobody is granted twice in the period, and nobody is notified twice
    again = _evaluate(client, admin_headers)
    assert (again["granted"], again["already"]) == (0, 1)
    assert len(client.get("/api/v1/me/messages", headers=old_local).json["items"]) == 1

    r = client.post(f"/api/v1/me/grants/{grant['id']}/confirm", json={"version": grant["version"]},
                    headers=old_local)
    assert r.status_code == 200 and r.json["status"] == "confirmed" and r.json["decided_at"]
    r = client.post(f"/api/v1/me/grants/{grant['id']}/decline", json={"version": r.json["version"]},
                    headers=old_local)
    assert r.status_code == 409 and r.json["code"] == "conflict"
    # someone else's grant is not found
    r = client.post(f"/api/v1/me/grants/{grant['id']}/confirm", json={"version": 1}, headers=young)
    assert r.status_code == 404

    # each decision is audited with a hash of the inputs it used: the population attributes stay with the grant,
    # never in the immutable audit chain
    records = client.get("/api/v1/audit", query_string={"action": "grant.offer"}, headers=admin_headers).json
    items = records["items"] if isinstance(records, dict) else records
    [offer] = [i for i in items if i["action"] == "grant.offer"]
    assert "inputs" not in offer["details"] and offer["details"]["outputs"]["amount"] == 300
    assert "110101" not in str(offer["details"]) and "1940" not in str(offer["details"])
    from workflows.cases.policies.evaluate import inputs_hash
    assert offer["details"]["inputs_hash"] == inputs_hash(grant["inputs"])


def test_a_licence_held_makes_a_resident_eligible_and_a_declined_grant_stays_declined(
        client, make_staff, make_department, admin_headers, resident_login, app):
    civil = make_department("civil", "民政局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    _policy(client, designer, civil["id"])
    client.post(f"{POLICIES}/elderly/publish", headers=designer)
    _, holder = _resident(resident_login, "holder")
    user_id = _user_id(client, holder)
    _profile(client, admin_headers, user_id, birth_date="1930-01-01", hukou="320102")
    assert _evaluate(client, admin_headers)["granted"] == 0
    with app.app_context():      # a 居住证 issued to them (what an approved residence application files)
        from workflows.cases.materials.models import PersonalMaterial
        PersonalMaterial(owner_id=user_id, kind="residence", source="licence", attachment_id="x", number="DZ1",
                 application_id="a1").save()
    assert _evaluate(client, admin_headers)["granted"] == 1
    [grant] = client.get("/api/v1/me/grants", headers=holder).json
    assert grant["outputs"]["amount"] == 200 and grant["inputs"]["licences"] == ["residence"]
    r = client.post(f"/api/v1/me/grants/{grant['id']}/decline", json={"version": grant["version"], "reason": "不需要"},
                    headers=holder)
    assert r.status_code == 200 and r.json["status"] == "declined" and r.json["reason"] == "不需要"
    assert _evaluate(client, admin_headers)["granted"] == 0


def test_bad_dmn_is_refused_by_element_id_and_only_designers_of_the_department_draft(
        client, make_staff, make_department, admin_headers, resident_headers):
    civil = make_department("civil", "民政局")
    other = make_department("tax", "税务局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    bad = ELDERLY.replace("&gt;= 80", "__import__('os')")
    r = client.post(POLICIES, headers={**designer, "Accept-Language": "en"}, json={
        "code": "elderly", "name": "x", "department": civil["id"], "dmn_xml": bad, "decision_id": "elderly_allowance"})
    assert r.status_code == 422 and r.json["code"] == "invalid"
    assert r.json["errors"][0]["path"] == "/dmn_xml" and r.json["errors"][0]["element_id"] == "a1"
    r = client.post(POLICIES, headers=designer, json={
        "code": "elderly", "name": "x", "department": civil["id"], "dmn_xml": ELDERLY, "decision_id": "nope"})
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/decision_id"
    assert r.json["errors"][0]["message"] == "DMN 文件中没有该决策" and r.json["message"] == "政策的 DMN 决策表有误"
    r = client.post(POLICIES, headers=designer, json={
        "code": "elderly", "name": "x", "department": civil["id"], "dmn_xml": "<not xml", "decision_id": "x"})
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/dmn_xml"
    _policy(client, designer, other["id"], expect=403)
    _policy(client, resident_headers, civil["id"], expect=403)
    assert client.post("/api/v1/admin/policies/evaluate", json={}, headers=designer).status_code == 403
    assert client.put("/api/v1/admin/resident-profiles/x", json={}, headers=designer).status_code == 403
    created = _policy(client, designer, civil["id"])
    r = client.patch(f"{POLICIES}/elderly", json={"version": created["version"], "period": "month"}, headers=designer)
    assert r.status_code == 200 and r.json["period"] == "month"
    r = client.patch(f"{POLICIES}/elderly", json={"version": created["version"], "period": "once"}, headers=designer)
    assert r.status_code == 409


def test_the_command_and_the_worker_run_the_policies(client, app, make_staff, make_department, admin_headers,
                                                     resident_login):
    from api.cli import cli, scheduled_jobs
    from workflows.cases.worker import Worker

    civil = make_department("civil", "民政局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    _policy(client, designer, civil["id"])
    client.post(f"{POLICIES}/elderly/publish", headers=designer)
    _, first = _resident(resident_login, "first")
    _profile(client, admin_headers, _user_id(client, first), birth_date="1930-01-01", hukou="110101")
    result = app.test_cli_runner().invoke(cli, ["policies", "evaluate", "--batch", "10"])
    assert result.exit_code == 0, result.output
    assert "elderly: residents 1, eligible 1, granted 1" in result.output
    _, second = _resident(resident_login, "second")
    _profile(client, admin_headers, _user_id(client, second), birth_date="1931-01-01", hukou="110101")
    with app.app_context():
        round_ = Worker(None, scheduled=scheduled_jobs(app.extensions["zhangban"].store)).run_round()
    assert round_.scheduled["policies"]["granted"] == 1
    assert len(client.get("/api/v1/me/grants", headers=second).json) == 1


def test_a_publish_a_crash_cut_leaves_one_policy_deciding_and_the_next_publish_goes_on(
        client, make_staff, make_department, admin_headers, app):
    """The crash: the new version stored (current), the one before not yet demoted, the draft's count not raised."""
    from workflows.cases.policies.models import PolicyVersion

    civil = make_department("civil", "民政局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    _policy(client, designer, civil["id"])
    assert client.post(f"{POLICIES}/elderly/publish", headers=designer).status_code == 201
    first = PolicyVersion.objects(code="elderly").get()
    PolicyVersion(code="elderly", number=2, body=first.body, published_by="designer").save(force_insert=True)
    assert PolicyVersion.objects(code="elderly", current=True).count() == 2
    assert _evaluate(client, admin_headers)["policies"] == 1          # the newest decides, once
    r = client.post(f"{POLICIES}/elderly/publish", headers=designer)
    assert r.status_code == 201, r.json                               # not a collision with the stored 2, for ever
    assert [(v.number, v.current) for v in PolicyVersion.objects(code="elderly").order_by("number")] == [
        (1, False), (2, False), (3, True)]
