"""The resident's side of a bundle: one merged form in one POST, one parent case that starts each department's
application, one timeline across departments, one result.

Submit, in an order that leaves a recoverable state (no transactions):
1. every part's data (its own fields plus the shared ones) is validated against its pinned service's form, and
   its attachments must be the applicant's — all parts' problems in one 422, nothing written;
2. the parent case is inserted (a unique index on the applicant's Idempotency-Key picks one winner);
3. `advance` starts each part whose needed parts are approved, as an ordinary application of that service (its
   own number, process, inbox rows and timeline), with the Idempotency-Key `bundle:<case>:<part>`, so a repeated
   or concurrent advance finds the application already started and never starts a second one.
`advance` runs again whenever a part's application ends (the worker's `advance_due`, from the `bundle_due_at` the
ending write set): it starts the parts that waited for it, skips those that needed a part that failed, cancels the
running ones when a part whose rejection fails the bundle is rejected, and gives the case its result when every part is over. It derives everything from the
parts' applications (the source of truth) and writes the case conditionally on its version, retrying.
A crash between 2 and 3 (or between a part's end and the bundle's reaction) leaves a case that waits;
`zhangban bundles-resume` (resume_open) advances every open case, and does nothing to those that are fine.

Withdraw (撤回) marks the case (`withdrawn_at`, conditional on its version) and lets `advance` do the rest: it
withdraws each running part's application as the applicant would (each fenced against its approvers), cancels
the parts that waited, and ends the case `withdrawn`. A crash after the mark leaves a case the resume finishes.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime

from mongoengine.errors import NotUniqueError

from core import audit, clock
from core.actor import Actor
from core.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from forms import service as forms
from forms import validation as form_validation
from storage import service as storage
from workflows.cases.applications import case_state, cases as app_cases
from workflows.cases.applications import service as applications
from workflows.cases.applications.models import Application, Event
from workflows.cases.bundles import reading, service as bundles
from workflows.cases.bundles.models import CASE_FINAL, BundleCase, CaseEvent, PartState
from workflows.cases.catalog import service as catalog
from workflows.cases.notify import service as notify
from workflows.cases.tasks.models import HumanTask

FAILED = ("rejected", "withdrawn", "cancelled", "skipped")
_ADVANCING = threading.local()     # case ids this thread is advancing (a part decided at once re-enters)


def _invalid(path: str, code: str, key: str = "bundle.invalid_data") -> dict:
    return {"path": path, "code": code, "message": key}


def _remap(item: dict, part_key: str, fills: dict) -> dict:
    """A form error's pointer in the merged form: /shared/<key>/… for a shared field, else /parts/<part>/…"""
    path = item.get("path") or ""
    head, _, rest = path[1:].partition("/")
    if head in fills:
        return {**item, "path": f"/shared/{fills[head]}" + (f"/{rest}" if rest else "")}
    return {**item, "path": f"/parts/{part_key}{path}"}


def _prepare(actor: Actor, bundle, shared: dict, parts: dict, profile) -> dict:
    """Part key → its validated data; Invalid with every part's problems, by merged-form pointers."""
    errors: list[dict] = []
    body = bundle.body
    errors += [_invalid(f"/parts/{k}", "unknown_part") for k in parts if k not in {p.key for p in body.parts}]
    shared_keys = {s.key for s in body.shared_fields}
    errors += [_invalid(f"/shared/{k}", "unknown_field") for k in shared if k not in shared_keys]
    prepared = {}
    for part in body.parts:
        fills = {name: s.key for s in body.shared_fields for k, name in s.fields.items() if k == part.key}
        own = parts.get(part.key) or {}
        if not isinstance(own, dict):
            errors.append(_invalid(f"/parts/{part.key}", "type"))
            continue
        errors += [_invalid(f"/parts/{part.key}/{name}", "shared_field") for name in own if name in fills]
        try:
            current = catalog.get_current(part.service_code)   # archived since: the bundle cannot be applied for
            sv = current if current.version == part.service_version else \
                catalog.get_version(part.service_code, part.service_version)
        except NotFound:
            errors.append(_invalid(f"/parts/{part.key}", "service_unavailable", "bundle.service_unavailable"))
            continue
        data = {**own, **{name: shared[key] for name, key in fills.items() if key in shared}}
        form = forms.get_published(sv.body.form_key, sv.body.form_version)
        try:
            clean = form_validation.validate(form, data, prefill_profile=profile)
        except Invalid as e:
            seen = {(x["path"], x["code"]) for x in errors}
            errors += [m for m in (_remap(item, part.key, fills) for item in e.errors)
                       if (m["path"], m["code"]) not in seen]
            continue
        try:
            storage.assert_owned(actor.user_id, form_validation.attachment_ids(form, clean))
        except Invalid as e:
            errors += [{**item, "path": f"/parts/{part.key}"} for item in e.errors]
            continue
        prepared[part.key] = (sv, clean)
    if errors:
        raise Invalid("bundle.invalid_data", errors=errors)
    return prepared


def submit(actor: Actor, *, bundle_code: str, shared: dict, parts: dict, profile: dict | None = None,
           idempotency_key: str | None = None) -> tuple[BundleCase, bool]:
    """One POST for the whole bundle. Returns (case, created)."""
    if idempotency_key:
        existing = BundleCase.objects(applicant_id=actor.user_id, idempotency_key=idempotency_key).first()
        if existing:
            return existing, False
    try:
        bundle = bundles.get_current(bundle_code)
    except NotFound:
        raise Invalid("bundle.unavailable", errors=[_invalid("/bundle_code", "not_found", "bundle.unavailable")]) \
            from None
    prepared = _prepare(actor, bundle, shared or {}, parts or {}, profile)
    now = clock.now()
    case = BundleCase(number=app_cases.next_number(now), applicant_id=actor.user_id,
                      applicant_name=app_cases.mask_name((profile or {}).get("name")), bundle_code=bundle.code,
                      bundle_version=bundle.version, bundle_name=bundle.body.name, department=bundle.department,
                      idempotency_key=idempotency_key, created_at=now, updated_at=now,
                      timeline=[CaseEvent(at=now, action="submitted", actor_id=actor.user_id,
                                          actor_name=actor.username)],
                      parts=[PartState(key=p.key, service_code=p.service_code, service_version=p.service_version,
                                       service_name=p.service_name, department=p.department,
                                       depends_on=list(p.depends_on), on_reject=p.on_reject,
                                       data_json=app_cases.dump_data(prepared[p.key][1]))
                             for p in bundle.body.parts])
    try:
        case.save(force_insert=True)
    except NotUniqueError:
        return BundleCase.objects(applicant_id=actor.user_id, idempotency_key=idempotency_key).first(), False
    audit.record(actor, "bundle.submit", "bundle_case", case.id, number=case.number, bundle=bundle.code,
                 bundle_version=bundle.version)
    services = {key: sv for key, (sv, _) in prepared.items()}
    return advance(case.id, actor=actor, profile=profile, services=services), True


def withdraw(actor: Actor, case_id: str, expected_version: int, *, reason: str = "") -> dict:
    """撤回 the whole bundle while no department has acted on any of its parts."""
    case = reading.mine(actor, case_id)
    if case.version != expected_version:
        raise Conflict("bundle.changed")
    parts = Application.objects(bundle_id=case.id).only("status", "staff_acted")
    if case.status != "submitted" or case.withdrawn_at is not None or not _withdrawable(parts):
        raise Conflict("bundle.not_withdrawable")
    now = clock.now()
    if not BundleCase.objects(id=case.id, version=expected_version, status="submitted", withdrawn_at=None).update_one(
            inc__version=1, set__withdrawn_at=now, set__updated_at=now,
            push__timeline=CaseEvent(at=now, action="withdraw", actor_id=actor.user_id, actor_name=actor.username,
                                     comment=reason)):
        raise Conflict("bundle.changed")
    audit.record(actor, "bundle.withdraw", "bundle_case", case.id, number=case.number, reason=reason)
    advance(case.id, actor=actor)
    return reading.view(actor, case_id)


_withdrawable = reading.withdrawable     # (a name of its own here: tests stand in for it)


def _withdraw_part(case: BundleCase, app: Application, actor: Actor) -> bool:
    """A running part of a withdrawn bundle, withdrawn as its applicant would; False when its department acted
    first (that part goes on: its approver's action came first)."""
    for _ in range(3):
        try:
            applications.withdraw(actor, str(app.id), app.version, reason=f"{case.bundle_name} 整体撤回")
            return True
        except Conflict:                     # a stale version (say, an urge), or an approver acted
            app = Application.objects(id=app.id).only("status", "staff_acted", "version").first()
            if app is None or app.staff_acted or app.status not in ("submitted", "returned"):
                return False
    return False


def _applicant(case: BundleCase) -> Actor:
    return Actor(user_id=case.applicant_id, roles=frozenset({"resident"}))


def _start(case: BundleCase, part: PartState, results: dict, actor: Actor, profile, services: dict) -> Application:
    """The part's application, submitted now (or the one a previous advance started)."""
    sv = services.get(part.key) or catalog.get_version(part.service_code, part.service_version)
    context = {"bundle": {"number": case.number, "code": case.bundle_code, "results": results}}
    app, _ = applications.create(actor, service_code=part.service_code, data=json.loads(part.data_json),
                                 submit=True, profile=profile, idempotency_key=f"bundle:{case.id}:{part.key}",
                                 service_version=sv, bundle=(case.id, part.key), context=context)
    if not app.applicant_name and case.applicant_name:
        # started after the resident's request (no profile here): the masked name approvers' lists show
        Application.objects(id=app.id, applicant_name="").update_one(set__applicant_name=case.applicant_name)
        HumanTask.objects(application_id=app.id, applicant_name="").update(set__applicant_name=case.applicant_name)
    return app


def _cancel(app: Application, reason: str) -> None:
    """A running part of a failed bundle: closed through the one case-state writer (its process cancelled, its inbox
    rows closed, the audit record in the application's write)."""
    record = audit.build(Actor.system(), "application.cancel", "application", app.id, reason=reason)
    case_state.close(app, Actor.system(), status="cancelled", owed=[record],
                     event=Event(at=clock.now(), action="cancelled", actor_name="一件事", comment=reason))


def advance(case_id, *, actor: Actor | None = None, profile: dict | None = None,
            services: dict | None = None) -> BundleCase:
    """Bring the case along its parts' applications (idempotent; see the module's docstring)."""
    busy = getattr(_ADVANCING, "ids", None)
    if busy is None:
        busy = _ADVANCING.ids = set()
    if case_id in busy:
        return BundleCase.objects(id=case_id).first()
    busy.add(case_id)
    try:
        for _ in range(8):
            case = BundleCase.objects(id=case_id).first()
            if case is None:
                raise NotFound()
            if case.status in CASE_FINAL or _advance_once(case, actor or _applicant(case), profile, services or {}):
                return case.reload()
        raise Conflict("bundle.changed")
    finally:
        busy.discard(case_id)


def _advance_once(case: BundleCase, actor: Actor, profile, services: dict) -> bool:
    """One pass; True when written (or nothing to write), False when someone else wrote first."""
    apps = {a.id: a for a in Application.objects(bundle_id=case.id).only(
        "id", "status", "number", "instance_id", "result", "service_name", "version", "staff_acted")}
    parts = {p.key: p for p in case.parts}
    events, now = [], clock.now()

    def status(p: PartState) -> str:
        if p.state == "started":
            return apps[p.application_id].status if p.application_id in apps else "submitted"
        return p.state

    if case.withdrawn_at is not None:         # the applicant withdrew it: nothing more starts, the running stop
        for p in case.parts:
            if p.state == "waiting":
                p.state = "cancelled"
                events.append(CaseEvent(at=now, action="cancelled", part=p.key, comment="申请人撤回"))
            elif status(p) in ("submitted", "returned") and _withdraw_part(case, apps[p.application_id], actor):
                apps[p.application_id].status = "withdrawn"

    changed = True
    while changed:
        changed = False
        failing = next((p for p in case.parts if p.on_reject == "fail_bundle" and status(p) in FAILED
                        and p.state == "started"), None)
        for p in case.parts:
            if p.state != "waiting":
                continue
            needs = [parts[k] for k in p.depends_on]
            if failing is not None:
                p.state, changed = "cancelled", True
                events.append(CaseEvent(at=now, action="cancelled", part=p.key, comment=failing.service_name))
            elif any(status(n) in FAILED for n in needs):
                p.state, changed = "skipped", True
                events.append(CaseEvent(at=now, action="skipped", part=p.key))
            elif all(status(n) == "approved" for n in needs):
                results = {n.key: {"decision": "approved", "number": apps[n.application_id].number}
                           for n in needs if n.application_id in apps}
                try:
                    app = _start(case, p, results, actor, profile, services)
                except Unavailable:              # its process fails at its first steps: it waits for a resume
                    continue
                except DomainError as e:         # the service is gone or refuses the data: the part cannot run
                    p.state, changed = "skipped", True
                    events.append(CaseEvent(at=now, action="skipped", part=p.key, comment=e.message_key))
                    continue
                apps[app.id] = app
                p.state, p.application_id, changed = "started", app.id, True
                events.append(CaseEvent(at=now, action="started", part=p.key, comment=app.number or ""))
        if failing is not None:
            for p in case.parts:
                if p.state == "started" and status(p) in ("submitted", "returned"):
                    _cancel(apps[p.application_id], f"{failing.service_name} 未通过")
                    apps[p.application_id].status = "cancelled"
    outcome = _outcome(case, status)
    changes = {"set__parts": case.parts, "set__updated_at": now}
    if outcome:
        ended = clock.now()                   # after the parts' own last lines (a withdrawal, a cancellation)
        changes.update(set__status=outcome, set__result_at=ended)
        events.append(CaseEvent(at=ended, action=outcome))
    if not events:
        return True
    changes["push_all__timeline"] = events
    if not BundleCase.objects(id=case.id, version=case.version, status="submitted").update_one(inc__version=1,
                                                                                                **changes):
        return False
    if outcome:
        audit.record(actor, "bundle.finish", "bundle_case", case.id, number=case.number, outcome=outcome)
        if outcome == "withdrawn":           # the applicant's own doing: nothing to tell them
            return True
        said = {"approved": "已办结", "partly_approved": "部分办结", "rejected": "未通过"}[outcome]
        notify.enqueue("rejected" if outcome == "rejected" else "approved", [case.applicant_id],
                       title=f"{case.bundle_name} {said}", body=f"编号 {case.number}",
                       dedupe=f"bundle:{outcome}:{case.id}")
    return True


def _outcome(case: BundleCase, status) -> str | None:
    states = [status(p) for p in case.parts]
    if any(s in ("waiting", "submitted", "returned", "draft") for s in states):
        return None
    started = [status(p) for p in case.parts if p.state == "started"]
    if "withdrawn" in started and not {"approved", "rejected"} & set(started):
        return "withdrawn"                    # the applicant withdrew it (whole, or a part that failed it)
    if any(status(p) in FAILED and p.on_reject == "fail_bundle" and p.state == "started" for p in case.parts):
        return "rejected"
    if all(s == "approved" for s in states):
        return "approved"
    return "partly_approved" if "approved" in states else "rejected"


def advance_due(now: datetime | None = None, limit: int = 200) -> int:
    """The worker's job: the bundles whose parts ended (the write that ended a part set its `bundle_due_at`) move
    on; each part's mark is cleared once its bundle has advanced (conditional on the mark read, so a part that ends
    again meanwhile stays due). No approval runs another department's submission in its own request. Returns how
    many bundles were advanced."""
    now = now or clock.now()
    due = list(Application._get_collection().find(
        {"bundle_due_at": clock.due_by(now)}, {"bundle_id": 1, "bundle_due_at": 1},
        sort=[("bundle_due_at", 1)], limit=limit))
    advanced = set()
    for part in due:
        if part["bundle_id"] not in advanced:
            try:
                advance(part["bundle_id"])
            except (NotFound, Conflict):     # gone, or busy with another advance: the mark stays, tried again
                continue
            advanced.add(part["bundle_id"])
        Application._get_collection().update_one({"_id": part["_id"], "bundle_due_at": part["bundle_due_at"]},
                                                 {"$set": {"bundle_due_at": None}})
    return len(advanced)


def resume_open(batch: int = 500) -> dict:
    """Advance every open case (`zhangban bundles resume`): what a crash between a case's insert and its first
    advance, or between a part's end and the bundle's reaction, left behind. Idempotent; a case with nothing to
    do is read and not written."""
    seen = moved = 0
    for case_id in BundleCase.objects(status="submitted").order_by("created_at").scalar("id").limit(batch):
        seen += 1
        before = BundleCase.objects(id=case_id).only("version").first()
        after = advance(case_id)
        moved += int(after is not None and before is not None and after.version != before.version)
    return {"open": seen, "advanced": moved}
