"""What people and the worker do to cases, interleaved at random, never leaves a case disagreeing with its process
(issue 22, item 9): a Hypothesis state machine over the real test servers (the Flask test client, the test
MongoDB) that submits, approves, rejects, returns, supplements, withdraws, claims, takes countersigners out (减签),
acts on stale versions, fires timers far ahead and runs the worker's rounds, and after every step reads the
database directly and checks:

1. a case agrees with its process: a completed instance's outcome is the application's status; an approved or
   rejected application has a completed instance with that outcome; a withdrawn one a cancelled instance; an open
   one a running instance; a gateway on the applicant's data decided on the data as last corrected (补正);
2. no open or returned inbox row outlives its case or its instance;
3. each person's act on a case (approve, reject, return, supplement, withdraw, 减签) has exactly one audit record
   (delivered, or still carried in the document it changed until the worker delivers it) and one timeline line;
4. no licence for a case that is not approved (and none missing for one that is);
5. the application's current steps are exactly its open and returned inbox rows.

Each Hypothesis example submits its own cases on the data the test set up once (the database is cleaned after
the test by conftest), and checks those cases only.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from tests.applications_fixtures import (APPLY_FORM, REVIEW_FORM, Case, good_data, publish_form, publish_process,
                                         publish_service)
from tests.test_case_outcomes import end, flow, process, user_task
from tests.test_countersign import OPINION_FORM, PICKED


def boundary(element_id, attached_to, outgoing, duration):
    return (f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}" cancelActivity="true">'
            f'<bpmn:outgoing>{outgoing}</bpmn:outgoing><bpmn:timerEventDefinition id="t_{element_id}">'
            f'<bpmn:timeDuration>"{duration}"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>')


# 受理审核 (civil; 5 days, then 逾期不予受理: rejected) → 住建复核 (housing; 不同意 is routed to the gateway; 10 days,
# then 超时转领导审核 in civil) → gateway on the applicant's months: 6 or more → approved, otherwise → rejected
GUARDED = process("guarded", {
    "civil": ["start", "review", "review_late", "late", "leader", "gw", "ok", "no"],
    "housing": ["recheck", "recheck_slow"]}, (
    user_task("review", "受理审核", "f1", "f2")
    + boundary("review_late", "review", "f_late", "P5D") + end("late", "f_late", "rejected")
    + user_task("recheck", "住建复核", "f2", "f3", onReject="route")
    + boundary("recheck_slow", "recheck", "f_slow", "P10D")
    + user_task("leader", "超时转领导审核", "f_slow", "f4")
    + '<bpmn:exclusiveGateway id="gw" default="f_no"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>'
      '<bpmn:outgoing>f_ok</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>'
    + end("ok", "f_ok", "approved") + end("no", "f_no", "rejected")
    + flow("f1", "start", "review") + flow("f2", "review", "recheck") + flow("f_late", "review_late", "late")
    + flow("f3", "recheck", "gw") + flow("f_slow", "recheck_slow", "leader") + flow("f4", "leader", "gw")
    + flow("f_ok", "gw", "ok", "months &gt;= 6") + flow("f_no", "gw", "no")))

SERVICES = ("guarded", "joint")     # the second: 受理审核 picks 2–3 housing countersigners, 2 agreeing decide

OPEN_ROWS = ("open", "returned")
FINAL = ("approved", "rejected", "withdrawn", "cancelled")
# a person's act: its timeline line and its audit record
ACTS = {"approved": "task.approve", "rejected": "task.reject", "returned": "task.return",
        "supplemented": "application.supplement", "withdrawn": "application.withdraw",
        "signer_removed": "task.remove_signer", "sent_back": "task.return_to_step"}
AUDITED = {v: k for k, v in ACTS.items()}
SEEN: Counter = Counter()     # what the runs did (printed with -s when ZB_SHOW_STEPS is set)


def event(what: str) -> None:
    SEEN[what] += 1


@pytest.fixture
def world(app, client, make_staff, make_department, resident_login):
    civil = make_department("civil", "民政局")
    housing = make_department("housing", "住建局")
    _, designer = make_staff("designer", [{"role": "designer", "department_id": civil["id"]}])
    staff = {}
    for name, department in (("c1", civil), ("c2", civil), ("h1", housing), ("h2", housing), ("h3", housing)):
        _, staff[name] = make_staff(name, [{"role": "approver", "department_id": department["id"]}])
    publish_form(client, designer, civil["id"], "residence_apply", APPLY_FORM)
    publish_form(client, designer, civil["id"], "review", REVIEW_FORM)
    publish_form(client, designer, civil["id"], "opinion", OPINION_FORM)
    publish_process(client, designer, civil["id"], "guarded", GUARDED)
    publish_process(client, designer, civil["id"], "joint_review", PICKED)
    publish_service(client, designer, "guarded", civil["id"], "residence_apply", "guarded", name="居住证申领")
    publish_service(client, designer, "joint", civil["id"], "residence_apply", "joint_review", name="联合审查")
    ids = {name: client.get("/api/v1/me", headers=headers).json["id"] for name, headers in staff.items()}
    world = Case(client, civil=civil["id"], housing=housing["id"], staff=staff, ids=ids,
                 names={v: k for k, v in ids.items()}, approvers={civil["id"]: ["c1", "c2"],
                                                                  housing["id"]: ["h1", "h2", "h3"]})

    def log_in():
        """Fresh tokens for everyone (a long hunt outlives an access token)."""
        for name in staff:
            r = client.post("/api/v1/auth/login", json={"username": name, "password": "correct horse battery"})
            staff[name] = {"Authorization": f"Bearer {r.json['access_token']}"}
        world.resident = {"Authorization": f"Bearer {resident_login(openid='o-invariants')['access_token']}"}
        world.logged_in_at = time.monotonic()

    world.log_in = log_in
    log_in()
    return world


# -- reading the database --------------------------------------------------------------------------------------

def _rows(app_id, *statuses):
    from workflows.cases.tasks.models import HumanTask

    query = HumanTask.objects(application_id=app_id)
    if statuses:
        query = query.filter(status__in=statuses)
    return list(query.order_by("created_at", "id"))


def _audit_records(app_ids: list[str]) -> tuple[dict[str, Counter], set]:
    """Per application: the audit actions of people's acts on it, delivered or still carried (each record once);
    and the (object id, action) pairs they are about."""
    from core import clock, deferred
    from core.audit import AuditRecord
    from workflows.cases.tasks.models import HumanTask

    rows = [str(t["_id"]) for t in HumanTask._get_collection().find(
        {"application_id": {"$in": [clock.parse_id(a) for a in app_ids]}}, {"_id": 1})]
    seen: dict = {}
    for record in AuditRecord._get_collection().find({"action": {"$in": list(AUDITED)}, "$or": [
            {"details.application": {"$in": app_ids}}, {"object_id": {"$in": app_ids + rows}}]}):
        seen[record["_id"]] = record
    for model in deferred._models:       # the applications, and the instances under them
        for document in model._get_collection().find({"deferred.to": "audit", "$or": [
                {"_id": {"$in": [clock.parse_id(a) for a in app_ids]}},
                {"application_id": {"$in": [clock.parse_id(a) for a in app_ids]}}]}, {"deferred": 1}):
            for item in document["deferred"]:
                if item["to"] == "audit" and item["doc"].get("action") in AUDITED:
                    seen.setdefault(item["id"], item["doc"])
    task_ids = [clock.parse_id(r.get("object_id")) for r in seen.values() if r.get("object_type") == "task"]
    task_of = {str(t["_id"]): str(t["application_id"]) for t in HumanTask._get_collection().find(
        {"_id": {"$in": [t for t in task_ids if t]}}, {"application_id": 1})}
    found = {a: Counter() for a in app_ids}
    for record in seen.values():
        details = record.get("details") or {}
        app_id = (record.get("object_id") if record.get("object_type") == "application"
                  else task_of.get(record.get("object_id")))
        assert details.get("application") in (None, app_id), record
        if app_id in found:
            found[app_id][record["action"]] += 1
    return found, {(r.get("object_id"), r["action"]) for r in seen.values()}


def check_cases(app_ids: list[str]) -> None:
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance

    apps = {str(a.id): a for a in Application.objects(id__in=app_ids)}
    instances = {i.id: i for i in Instance.objects(id__in=[a.instance_id for a in apps.values()]).exclude(
        "state_json")}
    audits, audited = _audit_records(app_ids)
    for app_id in app_ids:
        app = apps[app_id]
        instance = instances[app.instance_id]
        where = f"application {app.number} ({app.service_code}): {app.status}, instance {instance.status}" \
                f"/{instance.outcome} at {instance.end_event}; timeline " \
                f"{[e.action + ('@' + e.element_id if e.element_id else '') for e in app.timeline]}"
        # 1. the case agrees with its process
        if instance.status == "completed":
            assert app.status == instance.outcome, where
        if app.status in ("approved", "rejected"):
            assert (instance.status, instance.outcome) == ("completed", app.status), where
            assert app.result is not None and app.result.decision == app.status, where
        if instance.end_event in ("ok", "no"):      # GUARDED's gateway decided on the case's months, as corrected
            assert instance.end_event == ("ok" if app.data["months"] >= 6 else "no"), f"{where}; {app.data}"
        if app.status == "withdrawn":
            assert instance.status == "cancelled", where
        if instance.status == "cancelled":
            assert app.status == "withdrawn", where
        if app.status in ("submitted", "returned"):
            assert instance.status == "running", where
            assert app.result is None, where
        assert (app.status == "returned") == (app.return_request is not None), where
        assert app.instance_revision is None or app.instance_revision <= instance.revision, where
        # 2. no open row outlives its case or its instance
        rows = _rows(app.id)
        waiting = [r for r in rows if r.status in OPEN_ROWS]
        if app.status in FINAL or instance.status in ("completed", "cancelled"):
            assert waiting == [], f"{where}; rows left: {[(r.element_id, r.status) for r in waiting]}"
        assert all(r.instance_id == app.instance_id for r in rows), where
        assert len({r.task_id for r in waiting}) == len(waiting), where
        if app.status == "returned":
            assert [r.task_id for r in rows if r.status == "returned"] == [app.return_request.task_id], where
        else:
            assert not [r for r in rows if r.status == "returned"], where
        # 3. each act: one audit record, one timeline line (and a decision: one row that records it)
        lines = Counter(ACTS[e.action] for e in app.timeline if e.action in ACTS and e.actor_id and not e.automatic)
        assert lines == audits[app_id], f"{where}; audit {dict(audits[app_id])}"
        # (a row 退回 reopens is the same row: the decision's record stays, the row waits again)
        for row in rows:
            if row.status == "done" and row.outcome in ("approved", "rejected"):
                assert (str(row.id), ACTS[row.outcome]) in audited, f"{where}; no record for {row.element_id}"
        # 4. a licence only for an approved case, and every approved case gets one
        if app.status == "approved":
            assert app.documents_due_at is not None or app.result.documents, where
        else:
            assert app.documents_due_at is None, where
            assert app.result is None or list(app.result.documents) == [], where
        # 5. what the resident sees waiting is what the inbox holds
        assert sorted(s.task_id for s in app.current_steps) == sorted(r.task_id for r in waiting), \
            f"{where}; steps {[s.element_id for s in app.current_steps]}, " \
            f"rows {[(r.element_id, r.status) for r in waiting]}"


# -- the machine -------------------------------------------------------------------------------------------------

APPROVER_ACTS = ["approve", "reject", "reject", "return", "return", "return-to", "return-to", "claim",
                 "remove-signer", "remove-signer", "outsider"]


class CaseMachine(RuleBasedStateMachine):
    """People and the worker, acting on the cases one example submits (at most two open at a time)."""

    world: Case = None        # set by the test

    def __init__(self):
        super().__init__()
        if time.monotonic() - self.world.logged_in_at > 300:
            self.world.log_in()
        self.mine: list[str] = []
        self.service_of: dict[str, str] = {}

    def post(self, path, headers, body, allowed, strict=None):
        r = self.world.client.post(path, json=body, headers=headers)
        event(f"{path.rsplit('/', 1)[-1] if not path.endswith('applications') else 'submit'} {r.status_code}")
        assert r.status_code < 500, (path, body, r.status_code, r.json)
        if strict is not None:
            assert r.status_code == strict, (path, body, r.status_code, r.json)
        assert r.status_code in allowed, (path, body, r.status_code, r.json)
        return r

    def choose(self, which, wanted=("submitted", "returned")):
        """One of this example's cases: one in a wanted status when there is one (that is where things happen)."""
        from workflows.cases.applications.models import Application

        status = {str(a.id): a.status for a in Application.objects(id__in=self.mine).only("status")}
        found = [c for c in self.mine if status[c] in wanted] or self.mine
        return found[which % len(found)]

    def some(self, *statuses) -> bool:
        from workflows.cases.applications.models import Application
        return bool(self.mine) and Application.objects(id__in=self.mine, status__in=statuses).count() > 0

    def open_cases(self) -> int:
        from workflows.cases.applications.models import Application
        return Application.objects(id__in=self.mine, status__in=("submitted", "returned")).count()

    def may_act(self, row) -> list[str]:
        """Who of our staff may act on the row now: the one who claimed it, its picked signers, or its
        department's approvers."""
        if row.assignee:
            return [self.world.names[row.assignee]]
        if row.candidate_users:
            return [self.world.names[u] for u in row.candidate_users]
        return [n for d in row.candidate_departments for n in self.world.approvers.get(d, [])]

    @staticmethod
    def application(case):
        from workflows.cases.applications.models import Application
        return Application.objects(id=case).get()

    # the resident --------------------------------------------------------------------------------------------

    @initialize(service=st.sampled_from(SERVICES), months=st.sampled_from([3, 12]))
    def first_case(self, service, months):
        self.submit(service, months)

    @precondition(lambda self: self.open_cases() < 2)    # a few at a time, each taken far; then the next
    @rule(service=st.sampled_from(SERVICES), months=st.sampled_from([3, 12]))
    def submit(self, service, months):
        r = self.post("/api/v1/applications", self.world.resident, {
            "service_code": service, "data": good_data(months=months), "submit": True}, allowed=(201,))
        self.mine.append(r.json["id"])
        self.service_of[r.json["id"]] = service

    @precondition(lambda self: self.some("submitted", "returned"))
    @rule(kind=st.sampled_from(["supplement", "supplement", "withdraw"]), which=st.integers(0, 5),
          months=st.sampled_from([3, 12]))
    def resident(self, kind, which, months):
        """The resident corrects what was asked (补正), or withdraws."""
        if kind == "withdraw" or not self.some("returned"):
            self.withdraw(which)
        else:
            self.supplement(which, months)

    def supplement(self, which, months):
        case = self.choose(which, ("returned",))
        app = self.application(case)
        data = dict(app.data)
        asked = {f["path"] for f in app.return_request.fields} if app.return_request else {"/address"}
        if "/address" in asked:
            data["address"] = f"人民路 {len(app.timeline)} 号"
        if "/months" in asked:
            data["months"] = months
        self.post(f"/api/v1/applications/{case}/supplement", self.world.resident,
                  {"version": app.version, "data": data}, allowed=(200, 409),
                  strict=200 if app.status == "returned" else 409)

    def withdraw(self, which):
        case = self.choose(which)
        app = self.application(case)
        may = app.status in ("submitted", "returned") and not app.staff_acted
        self.post(f"/api/v1/applications/{case}/withdraw", self.world.resident, {"version": app.version},
                  allowed=(200, 409), strict=200 if may else 409)

    # the approvers -------------------------------------------------------------------------------------------

    @precondition(lambda self: self.some("submitted"))
    @rule(kind=st.sampled_from(APPROVER_ACTS), which=st.integers(0, 5), pick=st.integers(0, 3),
          who=st.integers(0, 3), signers=st.sampled_from([2, 3]), field=st.sampled_from(["/address", "/months"]))
    def approver_acts(self, kind, which, pick, who, signers, field):
        """An approver acts on an open row of a case, as their inbox shows it now."""
        case = self.choose(which)
        rows = _rows(case, "open")
        if kind == "remove-signer":
            rows = [r for r in rows if r.element_id == "countersign"]
        if not rows:
            return
        row = rows[pick % len(rows)]
        status = self.application(case).status
        if kind == "remove-signer":      # any approver of the countersign's department (the last signer: 422)
            name = self.world.approvers[self.world.housing][who % 3]
            self.post(f"/api/v1/tasks/{row.id}/remove-signer", self.world.staff[name],
                      {"version": row.version, "comment": "不再参与"}, allowed=(200, 409, 422),
                      strict=None if status == "submitted" else 409)
            return
        people = self.may_act(row)
        name = people[who % len(people)]
        if kind == "outsider":           # someone who may not act on it tries: refused, nothing changes
            others = [n for n in self.world.staff if n not in people]
            self.post(f"/api/v1/tasks/{row.id}/complete", self.world.staff[others[who % len(others)]],
                      {"version": row.version, "decision": "approve", "comment": "同意"}, allowed=(403, 404))
            return
        if kind == "return-to":          # 退回 to an earlier step the case has been through
            r = self.world.client.get(f"/api/v1/tasks/{row.id}/return-targets", headers=self.world.staff[name])
            assert r.status_code == 200, r.json
            if not r.json:
                return
            self.post(f"/api/v1/tasks/{row.id}/return-to", self.world.staff[name],
                      {"version": row.version, "element_id": r.json[0]["element_id"], "comment": "重新审核"},
                      allowed=(200, 409), strict=200 if status == "submitted" else 409)
            return
        if kind == "claim":
            self.post(f"/api/v1/tasks/{row.id}/claim", self.world.staff[name], {"version": row.version},
                      allowed=(200, 409), strict=409 if row.assignee else 200)
            return
        if kind == "return":
            body = {"reason": "请补正", "fields": [{"path": field, "reason": "x"}]}
        else:
            body = {"decision": kind, "comment": "同意" if kind == "approve" else "不同意"}
            if row.form_key == "opinion":
                body["data"] = {"opinion": kind}
            if kind == "approve" and row.element_id == "review" and self.service_of[case] == "joint":
                body["signers"] = [self.world.ids[n] for n in ("h1", "h2", "h3")[:signers]]
        action = "return" if kind == "return" else "complete"
        self.post(f"/api/v1/tasks/{row.id}/{action}", self.world.staff[name], {"version": row.version, **body},
                  allowed=(200, 409), strict=200 if status == "submitted" else 409)

    @precondition(lambda self: self.some("submitted"))
    @rule(which=st.integers(0, 5), pick=st.integers(0, 3), who=st.integers(0, 3), signers=st.sampled_from([2, 3]))
    def approve(self, which, pick, who, signers):
        """同意 (the most common act, so it comes up more often)."""
        self.approver_acts("approve", which, pick, who, signers, "/address")

    @rule(which=st.integers(0, 5), pick=st.integers(0, 5),
          what=st.sampled_from(["complete", "return", "claim", "remove-signer", "withdraw", "supplement"]))
    def stale(self, which, pick, what):
        """Someone acts on what their screen showed before the case moved on: 409, never a 500."""
        case = self.choose(which, ("submitted", "returned", "approved", "rejected", "withdrawn"))
        app = self.application(case)
        if what in ("withdraw", "supplement"):
            if app.version > 1:
                body = {"version": app.version - 1, **({"data": app.data} if what == "supplement" else {})}
                self.post(f"/api/v1/applications/{case}/{what}", self.world.resident, body, allowed=(409,))
                assert self.application(case).version == app.version       # nothing changed
            return
        rows = [r for r in _rows(case) if r.version > 1]
        if not rows:
            return
        row = rows[pick % len(rows)]
        if row.assignee:
            name = self.world.names[row.assignee]
        elif row.completed_by:
            name = self.world.names[row.completed_by]
        else:
            name = self.may_act(row)[0]
        body = {"complete": {"decision": "approve", "comment": "同意"},
                "return": {"reason": "x", "fields": [{"path": "/address", "reason": "x"}]},
                "remove-signer": {"comment": "x"}}.get(what, {})
        self.post(f"/api/v1/tasks/{row.id}/{what}", self.world.staff[name], {"version": row.version - 1, **body},
                  allowed=(409,))
        assert (self.application(case).version, type(row).objects(id=row.id).get().version) == \
            (app.version, row.version)                                  # nothing changed

    # the worker ----------------------------------------------------------------------------------------------

    @rule(days=st.sampled_from([0, 0, 1, 6, 12, 30]))
    def worker(self, days):
        """A worker round (deliver carried records, move bundles on) or, `days` ahead, a timer pass."""
        if days:
            self.fire_timers(days)
            return
        from core import deferred
        from workflows.cases.bundles import cases as bundle_cases

        event(f"worker delivered {min(deferred.deliver(), 1)}+")
        bundle_cases.advance_due()

    def fire_timers(self, days):
        from core import clock
        from workflows.cases.applications import case_state

        fired = case_state.fire_due_timers(now=clock.now() + timedelta(days=days)).fired
        event(f"timers +{days}d fired {min(fired, 1)}+")

    # after every step --------------------------------------------------------------------------------------------

    @invariant()
    def cases_agree(self):
        if self.mine:
            check_cases(self.mine)

    def teardown(self):
        """The worker delivers what is still carried: then every act has its record in the audit log itself."""
        if not self.mine:
            return
        from core import deferred
        from workflows.cases.applications.models import Application

        deferred.deliver()
        check_cases(self.mine)
        for model in deferred._models:
            assert model._get_collection().count_documents({"deferred.to": "audit"}) == 0
        for app in Application.objects(id__in=self.mine).only("status", "timeline", "service_code"):
            event(f"ended {app.service_code} {app.status}"
                  + (" (return cancelled by a timer)" if any(e.action == "return_cancelled" for e in app.timeline)
                     else ""))


# a longer hunt: ZB_INVARIANT_EXAMPLES=300 (random, not the fixed sequence the suite runs), with --timeout=0
EXAMPLES = int(os.environ.get("ZB_INVARIANT_EXAMPLES") or 0)


@pytest.mark.timeout(900)     # 40 runs of 20 steps: ~2 min alone, longer on a busy machine
def test_cases_agree_with_their_processes_whatever_people_and_the_worker_do(world):
    CaseMachine.world = world
    try:
        run_state_machine_as_test(CaseMachine, settings=settings(
            max_examples=EXAMPLES or 40, stateful_step_count=20, deadline=None, derandomize=not EXAMPLES,
            database=None, print_blob=bool(EXAMPLES),
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.filter_too_much]))
    finally:
        CaseMachine.world = None
        if os.environ.get("ZB_SHOW_STEPS"):
            print("\n".join(f"{n:5} {what}" for what, n in sorted(SEEN.items())))


# -- what the machine found --------------------------------------------------------------------------------------

def test_sending_a_case_back_from_a_step_with_a_waiting_boundary_timer_reopens_the_earlier_step(world):
    """退回 from 住建复核 (whose 10-day timer waits) to 受理审核: the timer goes with the step left behind. It used to
    fail inside the engine ('NoneType' object has no attribute 'data': the dropped timer was still listed as
    waiting) and leave the instance an incident under an application that still shows 住建复核."""
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance

    c = world.client
    case = c.post("/api/v1/applications", json={"service_code": "guarded", "data": good_data(), "submit": True},
                  headers=world.resident).json["id"]
    [review] = _rows(case, "open")
    r = c.post(f"/api/v1/tasks/{review.id}/complete", headers=world.staff["c1"],
               json={"version": review.version, "decision": "approve", "comment": "同意"})
    assert r.status_code == 200, r.json
    [recheck] = _rows(case, "open")
    assert recheck.element_id == "recheck"
    r = c.post(f"/api/v1/tasks/{recheck.id}/return-to", headers=world.staff["h1"],
               json={"version": recheck.version, "element_id": "review", "comment": "请重新审核"})
    assert r.status_code == 200, r.json
    app = Application.objects(id=case).get()
    assert Instance.objects(id=app.instance_id).get().status == "running"
    assert [s.element_id for s in app.current_steps] == ["review"]
    check_cases([case])


def test_a_correction_reaches_the_process_when_a_timer_then_takes_the_corrected_step_away(world):
    """补正 at 住建复核 changes 居住月数 from 12 to 3; then its 10-day timer hands the case to 超时转领导审核. The
    gateway after it must decide on the corrected 3 months (rejected), as it does when 住建复核 itself is approved.
    It decided on the 12 months of before the correction: the correction was written into the waiting task only,
    and the timer's branch carries the data from before it."""
    from core import clock
    from workflows.cases.applications import case_state
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance

    c = world.client

    def act(row, who, action="complete", **body):
        r = c.post(f"/api/v1/tasks/{row.id}/{action}", headers=world.staff[who], json={"version": row.version, **body})
        assert r.status_code == 200, r.json

    case = c.post("/api/v1/applications", json={"service_code": "guarded", "data": good_data(months=12),
                                                "submit": True}, headers=world.resident).json["id"]
    [review] = _rows(case, "open")
    act(review, "c1", decision="approve", comment="同意")
    [recheck] = _rows(case, "open")
    act(recheck, "h1", "return", reason="居住月数有误", fields=[{"path": "/months", "reason": "请按居住证明填写"}])
    app = Application.objects(id=case).get()
    r = c.post(f"/api/v1/applications/{case}/supplement", headers=world.resident,
               json={"version": app.version, "data": {**app.data, "months": 3}})
    assert r.status_code == 200, r.json
    assert case_state.fire_due_timers(now=clock.now() + timedelta(days=30)).fired >= 1
    [leader] = _rows(case, "open")
    assert leader.element_id == "leader"
    act(leader, "c1", decision="approve", comment="同意")
    app = Application.objects(id=case).get()
    instance = Instance.objects(id=app.instance_id).get()
    assert app.data["months"] == 3
    assert (instance.end_event, app.status) == ("no", "rejected")
    check_cases([case])
