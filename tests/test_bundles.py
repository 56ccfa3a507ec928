"""一件事 bundles (issue 12, item 1): designed from several departments' published services, applied for in one
POST with one merged form, run as one case of parallel and ordered parts, with one timeline and one result."""
from __future__ import annotations

import threading

from tests.applications_fixtures import ID_CARD
from tests.bundles_fixtures import DESIGNER, bundle_body, good, newborn  # noqa: F401 (fixture)


def test_the_designer_is_told_every_problem_by_pointer(newborn):
    body = bundle_body(newborn.health["id"], parts=[
        {"key": "birth", "service_code": "birth_cert", "depends_on": ["hukou"]},
        {"key": "hukou", "service_code": "hukou_birth", "depends_on": ["birth"]},
        {"key": "gone", "service_code": "no_such_service", "depends_on": ["nobody"]}],
        shared_fields=[{"key": "parent_id", "fields": {"birth": "mother_id_card", "hukou": "baby_name"}},
                       {"key": "x", "fields": {"birth": "nope", "elsewhere": "id_card"}}])
    r = newborn.client.post(DESIGNER, json=body, headers=newborn.designer)
    assert r.status_code == 201, r.json
    r = newborn.client.post(f"{DESIGNER}/newborn/validate", headers={**newborn.designer, "Accept-Language": "en"})
    found = {(e["path"], e["code"]) for e in r.json["errors"]}
    assert r.json["valid"] is False and found == {
        ("/parts/2/depends_on/0", "unknown_part"), ("/parts/0/depends_on", "dependency_cycle"),
        ("/parts/2/service_code", "service_not_published"), ("/shared_fields/0/fields", "shared_kind_mismatch"),
        ("/shared_fields/1/fields/birth", "unknown_field"), ("/shared_fields/1/fields/elsewhere", "unknown_part")}
    assert any(e["message"] == "The parts' dependencies form a cycle" for e in r.json["errors"])
    r = newborn.client.post(f"{DESIGNER}/newborn/publish", headers=newborn.designer)
    assert r.status_code == 422 and r.json["code"] == "invalid" and len(r.json["errors"]) == 6
    assert newborn.client.get("/api/v1/bundles", headers=newborn.resident).json["total"] == 0
    other = newborn.client.post(DESIGNER, json=bundle_body(newborn.police["id"], code="x1"), headers=newborn.designer)
    assert other.status_code == 403


def test_the_catalogue_lists_the_bundle_with_its_merged_form(newborn):
    published = newborn.publish_bundle()
    assert [(p["key"], p["service_version"], p["service_name"]) for p in published["parts"]] == [
        ("birth", 1, "出生医学证明"), ("hukou", 1, "出生登记"), ("insurance", 1, "参保登记")]
    listed = newborn.client.get("/api/v1/bundles", query_string={"keyword": "户口"}, headers=newborn.resident).json
    assert [(b["code"], b["kind"]) for b in listed["items"]] == [("newborn", "bundle")]
    detail = newborn.client.get("/api/v1/bundles/newborn", headers=newborn.resident).json
    shared = {s["key"]: s for s in detail["form"]["shared"]}
    assert shared["parent_id"]["component"]["type"] == "id-card" and shared["parent_id"]["path"] == "/shared/parent_id"
    hukou = next(p for p in detail["form"]["parts"] if p["key"] == "hukou")
    assert hukou["shared"] == {"parent_id_card": "parent_id", "baby_name": "baby_name"}
    assert hukou["department"] == newborn.police["id"] and hukou["depends_on"] == ["birth"]
    assert newborn.client.get(hukou["form"]["render"], headers=newborn.resident).status_code == 200


def test_one_post_runs_parallel_parts_then_the_one_that_needs_the_birth_certificate(newborn):
    newborn.publish_bundle()
    case = newborn.submit()
    parts = {p["key"]: p for p in case["parts"]}
    assert case["status"] == "submitted" and case["number"].startswith("ZB")
    assert parts["birth"]["status"] == "submitted" and parts["insurance"]["status"] == "submitted"
    assert parts["hukou"]["status"] == "waiting" and parts["hukou"]["application_id"] is None
    assert newborn.todo(newborn.approvers["police"]) == []          # 户口 waits for the birth certificate
    # each department's own application got its own fields, the shared ones filled in once
    birth = newborn.client.get(f"/api/v1/applications/{parts['birth']['application_id']}",
                               headers=newborn.resident).json
    assert birth["data"] == {"mother_id_card": ID_CARD, "baby_name": "张小宝"}

    newborn.decide(newborn.approvers["health"], comment="证明已签发", then_worker=False)
    # the approval's request did not run the police's submission: the worker's round moves the bundle on
    waiting = newborn.case(case["id"])
    assert next(p for p in waiting["parts"] if p["key"] == "hukou")["status"] == "waiting"
    assert newborn.worker() == 1 and newborn.worker() == 0
    after = newborn.case(case["id"])
    hukou = next(p for p in after["parts"] if p["key"] == "hukou")
    assert hukou["status"] == "submitted" and hukou["number"].startswith("ZB")
    police_app = newborn.client.get(f"/api/v1/applications/{hukou['application_id']}", headers=newborn.resident).json
    assert police_app["data"] == {"parent_id_card": ID_CARD, "baby_name": "张小宝", "address": "人民路 1 号"}
    newborn.decide(newborn.approvers["police"])
    assert newborn.case(case["id"])["status"] == "submitted"         # 医保 still open
    newborn.decide(newborn.approvers["medical"])
    done = newborn.case(case["id"])
    assert done["status"] == "approved" and done["result"]["decision"] == "approved"
    steps = [(e["part"], e["action"]) for e in done["timeline"]]
    assert steps[0] == ("", "submitted") and steps[-1] == ("", "approved")
    assert steps.index(("birth", "approved")) < steps.index(("hukou", "started")) < steps.index(("hukou", "approved"))
    departments = {e["department"] for e in done["timeline"] if e["action"] == "approved" and e["part"]}
    assert departments == {newborn.health["id"], newborn.police["id"], newborn.medical["id"]}
    mine = newborn.client.get("/api/v1/bundle-cases", headers=newborn.resident).json
    assert [(c["id"], c["status"]) for c in mine["items"]] == [(case["id"], "approved")]


def test_a_part_only_rejection_leaves_the_others_and_gives_a_partial_result(newborn):
    newborn.publish_bundle()
    case = newborn.submit()
    newborn.decide(newborn.approvers["medical"], "reject", "非本市户籍")
    assert newborn.case(case["id"])["status"] == "submitted"
    newborn.decide(newborn.approvers["health"])
    newborn.decide(newborn.approvers["police"])
    done = newborn.case(case["id"])
    assert done["status"] == "partly_approved"
    assert {p["key"]: p["status"] for p in done["parts"]} == {"birth": "approved", "hukou": "approved",
                                                              "insurance": "rejected"}


def test_a_rejection_that_fails_the_bundle_cancels_the_running_and_waiting_parts(newborn):
    newborn.publish_bundle()
    case = newborn.submit()
    assert len(newborn.todo(newborn.approvers["medical"])) == 1
    newborn.decide(newborn.approvers["health"], "reject", "出生信息不符")
    done = newborn.case(case["id"])
    assert done["status"] == "rejected"
    assert {p["key"]: p["status"] for p in done["parts"]} == {"birth": "rejected", "hukou": "cancelled",
                                                              "insurance": "cancelled"}
    assert newborn.todo(newborn.approvers["medical"]) == [] and newborn.todo(newborn.approvers["police"]) == []
    insurance = next(p for p in done["parts"] if p["key"] == "insurance")
    app = newborn.client.get(f"/api/v1/applications/{insurance['application_id']}", headers=newborn.resident).json
    assert app["status"] == "cancelled" and app["timeline"][-1]["action"] == "cancelled"


def test_bad_data_names_the_merged_form_fields_and_writes_nothing(newborn, app):
    newborn.publish_bundle()
    body = good(hukou={"parent_id_card": ID_CARD}, stranger={})
    body["shared"]["parent_id"] = "110105194912310021"          # a wrong check digit
    r = newborn.client.post("/api/v1/bundle-cases", json=body, headers=newborn.resident)
    assert r.status_code == 422 and r.json["code"] == "invalid"
    assert {e["path"] for e in r.json["errors"]} == {"/shared/parent_id", "/parts/hukou/address",
                                                     "/parts/hukou/parent_id_card", "/parts/stranger"}
    with app.app_context():
        from workflows.cases.applications.models import Application
        from workflows.cases.bundles.models import BundleCase
        assert BundleCase.objects.count() == 0 and Application.objects.count() == 0
    r = newborn.client.post("/api/v1/bundle-cases", json={**good(), "bundle_code": "nope"}, headers=newborn.resident)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/bundle_code"


def test_a_retry_with_the_same_key_gets_the_same_case_and_no_second_applications(newborn, app):
    newborn.publish_bundle()
    first = newborn.submit(key="k-1")
    again = newborn.submit(key="k-1", expect=200)
    assert again["id"] == first["id"]
    with app.app_context():
        from workflows.cases.applications.models import Application
        assert Application.objects.count() == 2          # birth and insurance; hukou waits
    r = newborn.client.get(f"/api/v1/bundle-cases/{first['id']}", headers=newborn.approvers["health"])
    assert r.status_code == 404


def test_the_part_that_needs_two_starts_once_when_both_end_together_and_sees_their_results(newborn, app):
    from tests.test_applications_races import _parallel

    newborn.publish_bundle(parts=[{"key": "birth", "service_code": "birth_cert"},
                                  {"key": "hukou", "service_code": "hukou_birth", "depends_on": ["birth", "insurance"]},
                                  {"key": "insurance", "service_code": "baby_insurance"}])
    case = newborn.submit()
    tasks = [(newborn.approvers[d], newborn.todo(newborn.approvers[d])[0]) for d in ("health", "medical")]
    responses = _parallel(app, [lambda c, h=h, t=t: c.post(f"/api/v1/tasks/{t['id']}/complete", headers=h, json={
        "version": t["version"], "decision": "approve", "comment": "同意"}) for h, t in tasks])
    assert [r.status_code for r in responses] == [200, 200]
    assert newborn.todo(newborn.approvers["police"]) == []          # no approval ran the police's submission

    def worker():
        with app.app_context():
            newborn.worker()
    workers = [threading.Thread(target=worker) for _ in range(2)]   # two workers' rounds at once
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    [police_task] = newborn.todo(newborn.approvers["police"])       # started exactly once
    after = newborn.case(case["id"])
    assert [(e["part"], e["action"]) for e in after["timeline"]].count(("hukou", "started")) == 1
    numbers = {p["key"]: p["number"] for p in after["parts"]}
    with app.app_context():
        from workflows.cases.applications.models import Application
        from workflows.bpmn.models import Instance
        assert Application.objects(bundle_part="hukou").count() == 1
        hukou = Application.objects.get(bundle_part="hukou")
        state = Instance.objects.get(id=hukou.instance_id).state_json
    # the part that waited gets the bundle's number and the results of the parts it needed, in its process data
    assert numbers["birth"] in state and numbers["insurance"] in state and case["number"] in state
    assert police_task["application_id"] == str(hukou.id)


def test_a_case_a_crash_left_before_its_parts_started_is_resumed_by_the_command(newborn, app, monkeypatch):
    from api.cli import cli
    from workflows.cases.bundles import cases

    newborn.publish_bundle()
    monkeypatch.setattr(cases, "advance", lambda case_id, **kw: cases.BundleCase.objects(id=case_id).first())
    case = newborn.submit()                                   # the process "died" after inserting the case
    assert {p["status"] for p in case["parts"]} == {"waiting"} and newborn.todo(newborn.approvers["health"]) == []
    monkeypatch.undo()
    result = app.test_cli_runner().invoke(cli, ["bundles-resume"])
    assert result.exit_code == 0 and "open: 1, advanced: 1" in result.output, result.output
    parts = {p["key"]: p["status"] for p in newborn.case(case["id"])["parts"]}
    assert parts == {"birth": "submitted", "hukou": "waiting", "insurance": "submitted"}
    assert len(newborn.todo(newborn.approvers["health"])) == 1
    again = app.test_cli_runner().invoke(cli, ["bundles-resume"])
    assert "open: 1, advanced: 0" in again.output                # nothing twice
    assert len(newborn.todo(newborn.approvers["health"])) == 1


def test_the_applicant_withdraws_the_whole_bundle_while_no_department_has_acted(newborn, app):
    newborn.publish_bundle()
    case = newborn.submit()
    assert case["withdrawable"] is True
    url = f"/api/v1/bundle-cases/{case['id']}/withdraw"
    stale = newborn.client.post(url, json={"version": case["version"] - 1}, headers=newborn.resident)
    assert stale.status_code == 409 and newborn.case(case["id"])["status"] == "submitted"
    other = newborn.client.post(url, json={"version": case["version"]}, headers=newborn.approvers["health"])
    assert other.status_code == 404
    r = newborn.client.post(url, json={"version": case["version"], "reason": "信息填错了"}, headers=newborn.resident)
    assert r.status_code == 200, r.json
    done = r.json
    assert done["status"] == "withdrawn" and done["result"]["decision"] == "withdrawn" and not done["withdrawable"]
    assert {p["key"]: p["status"] for p in done["parts"]} == {"birth": "withdrawn", "hukou": "cancelled",
                                                              "insurance": "withdrawn"}
    assert all(newborn.todo(newborn.approvers[d]) == [] for d in ("health", "police", "medical"))
    steps = [(e["part"], e["action"]) for e in done["timeline"]]
    assert ("", "withdraw") in steps and steps[-1] == ("", "withdrawn") and ("hukou", "cancelled") in steps
    again = newborn.client.post(url, json={"version": done["version"]}, headers=newborn.resident)
    assert again.status_code == 409
    with app.app_context():
        from core.audit import AuditRecord
        assert AuditRecord.objects(action="bundle.withdraw", object_id=case["id"]).count() == 1


def test_a_bundle_a_department_has_acted_on_is_not_withdrawn_and_nothing_changes(newborn, app):
    newborn.publish_bundle()
    case = newborn.submit()
    newborn.decide(newborn.approvers["medical"])                 # 医保 approved its part
    before = newborn.case(case["id"])
    assert before["withdrawable"] is False
    r = newborn.client.post(f"/api/v1/bundle-cases/{case['id']}/withdraw", json={"version": before["version"]},
                            headers={**newborn.resident, "Accept-Language": "en"})
    assert r.status_code == 409 and "can no longer be withdrawn" in r.json["message"]
    after = newborn.case(case["id"])
    assert after["version"] == before["version"] and after["status"] == "submitted"
    assert {p["key"]: p["status"] for p in after["parts"]} == {"birth": "submitted", "hukou": "waiting",
                                                               "insurance": "approved"}


def test_a_withdrawal_a_crash_interrupted_is_finished_by_the_resume_command(newborn, app, monkeypatch):
    from api.cli import cli
    from workflows.cases.bundles import cases

    newborn.publish_bundle()
    case = newborn.submit()
    monkeypatch.setattr(cases, "advance", lambda case_id, **kw: None)   # "died" right after marking the case
    r = newborn.client.post(f"/api/v1/bundle-cases/{case['id']}/withdraw", json={"version": case["version"]},
                            headers=newborn.resident)
    assert r.status_code == 200 and r.json["status"] == "submitted" and not r.json["withdrawable"]
    assert len(newborn.todo(newborn.approvers["health"])) == 1      # the parts still run
    monkeypatch.undo()
    result = app.test_cli_runner().invoke(cli, ["bundles-resume"])
    assert result.exit_code == 0 and "open: 1, advanced: 1" in result.output, result.output
    done = newborn.case(case["id"])
    assert done["status"] == "withdrawn" and newborn.todo(newborn.approvers["health"]) == []
    assert {p["status"] for p in done["parts"]} == {"withdrawn", "cancelled"}


def test_withdrawing_a_part_that_fails_the_bundle_ends_it_withdrawn_not_rejected(newborn):
    newborn.publish_bundle()
    case = newborn.submit()
    birth = next(p for p in case["parts"] if p["key"] == "birth")
    app_version = newborn.client.get(f"/api/v1/applications/{birth['application_id']}",
                                     headers=newborn.resident).json["version"]
    r = newborn.client.post(f"/api/v1/applications/{birth['application_id']}/withdraw",
                            json={"version": app_version}, headers=newborn.resident)
    assert r.status_code == 200, r.json
    newborn.worker()
    done = newborn.case(case["id"])
    assert done["status"] == "withdrawn"
    assert {p["key"]: p["status"] for p in done["parts"]} == {"birth": "withdrawn", "hukou": "cancelled",
                                                              "insurance": "cancelled"}


def test_a_part_its_department_acted_on_in_the_same_moment_is_not_withdrawn_and_goes_on(newborn, app, monkeypatch):
    from workflows.cases.bundles import cases

    newborn.publish_bundle(parts=[{"key": "birth", "service_code": "birth_cert", "on_reject": "part_only"},
                                  {"key": "insurance", "service_code": "baby_insurance", "on_reject": "part_only"}],
                           shared_fields=[{"key": "parent_id", "fields": {"birth": "mother_id_card",
                                                                           "insurance": "id_card"}},
                                          {"key": "baby_name", "fields": {"birth": "baby_name",
                                                                          "insurance": "baby_name"}}])
    case = newborn.submit({"bundle_code": "newborn", "shared": {"parent_id": ID_CARD, "baby_name": "张小宝"}})
    [task] = newborn.todo(newborn.approvers["medical"])
    r = newborn.client.post(f"/api/v1/tasks/{task['id']}/return", headers=newborn.approvers["medical"], json={
        "version": task["version"], "reason": "姓名有误", "fields": [{"path": "/baby_name"}]})
    assert r.status_code == 200, r.json
    # the resident's check saw no department acting: 医保 sent its part back just after it
    monkeypatch.setattr(cases, "_withdrawable", lambda parts: True)
    r = newborn.client.post(f"/api/v1/bundle-cases/{case['id']}/withdraw",
                            json={"version": newborn.case(case["id"])["version"]}, headers=newborn.resident)
    assert r.status_code == 200, r.json
    assert {p["key"]: p["status"] for p in r.json["parts"]} == {"birth": "withdrawn", "insurance": "returned"}
    assert r.json["status"] == "submitted"                   # not over while 医保's part goes on
    monkeypatch.undo()
    assert newborn.case(case["id"])["withdrawable"] is False


def test_the_designer_reads_the_published_versions_and_no_one_else_does(newborn):
    newborn.publish_bundle()
    r = newborn.client.post(f"{DESIGNER}/newborn/publish", headers=newborn.designer)       # a second version
    assert r.status_code == 201, r.json
    listed = newborn.client.get(f"{DESIGNER}/newborn/versions", headers=newborn.designer).json
    assert [v["version"] for v in listed["items"]] == [2, 1] and [v["current"] for v in listed["items"]] == [True, False]
    first = newborn.client.get(f"{DESIGNER}/newborn/versions/1", headers=newborn.designer).json
    assert first["version"] == 1 and [p["key"] for p in first["parts"]] == ["birth", "hukou", "insurance"]
    assert newborn.client.get(f"{DESIGNER}/newborn/versions/3", headers=newborn.designer).status_code == 404
    assert newborn.client.get(f"{DESIGNER}/newborn/versions", headers=newborn.approvers["police"]).status_code == 403
