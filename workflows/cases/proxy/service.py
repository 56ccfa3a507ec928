"""帮办代办: authorisations.

    grant(resident, helper, services=, actions=, expires_at=)            # the resident, in the app: active at once
    record_on_site(helper, find_resident, services=, actions=, expires_at=, signature=)   # the helper: pending
    confirm(resident, id) / refuse(resident, id)                          # the resident, on their phone
    approve(lead, id)                                                     # a lead of the helper's department, on site
    revoke(resident, authorisation_id)

People arrive as `Actor` values resolved by the delivery room (the resident found by their 身份证号 at the window).
A helper must hold the `helper` role. An on-site authorisation a helper records is pending — the helper can do
nothing with it — until the resident confirms it (a message with 确认 / 拒绝) or a second staff member, a `lead` of
one of the helper's departments, approves it on site. Its scope is services of the helper's own departments. The
resident is told of every authorisation (and, by workflows/cases/proxy/acting.py, of every act under one).
The look-up of a resident by 身份证号 answers the same whether an account exists or not, and is rate-limited.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bson import ObjectId

from core import audit, clock, db, throttle
from core.actor import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from storage import service as storage
from workflows.cases.applications import cases
from workflows.cases.catalog import service as catalog
from workflows.cases.notify import service as notify
from workflows.cases.proxy.models import ACTIONS, Authorisation
from workflows.cases.tasks.names import staff_name

MAX_DAYS = 366


class AuthorisationPending(Forbidden):
    """403 of its own: the authorisation waits for the resident's 确认 or a lead's approval."""
    code = "proxy.pending"


def _field(path: str, code: str, key: str) -> Invalid:
    return Invalid(key, errors=[{"path": path, "code": code, "message": key}])


def require_helper(actor: Actor) -> None:
    if "helper" not in actor.roles:
        raise Forbidden("proxy.not_a_helper")


def _check_terms(helper: Actor, services: list, actions: list, expires_at: datetime, now: datetime) -> None:
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=timezone.utc)
    if not now < expires_at <= now + timedelta(days=MAX_DAYS):
        raise _field("/expires_at", "out_of_range", "proxy.bad_expiry")
    if not actions or any(a not in ACTIONS for a in actions):
        raise _field("/actions", "invalid", "proxy.bad_actions")
    own = helper.department_ids("helper")
    for i, code in enumerate(services):
        if _department_of(code) not in own:
            raise _field(f"/services/{i}", "not_helpers_department", "proxy.not_helpers_department")


def _department_of(service_code: str) -> str | None:
    try:
        return catalog.get_current(service_code).department
    except NotFound:
        return None


def _tell(resident_id: str, doc: Authorisation, title: str, body: str, event: str) -> None:
    notify.enqueue("authorisation", [resident_id], title=title, body=body,
                   data={"authorisation_id": str(doc.id), "status": doc.status},
                   dedupe=f"authorisation:{doc.id}:{event}")


def _service_names(codes) -> list[str]:
    """What a resident reads: the services' names (a code only where none is published any more), from the
    catalogue's cache that checking the terms filled."""
    def name(code: str) -> str:
        try:
            return catalog.get_current(code).body.name
        except NotFound:
            return code
    return [name(code) for code in codes]


def _scope_text(doc: Authorisation) -> str:
    what = "、".join({"submit": "提交申请", "supplement": "补正"}[a] for a in doc.actions)
    services = "、".join(_service_names(doc.services)) if doc.services else "其所在部门的全部事项"
    return f"范围：{services}；可代办：{what}；有效期至 {clock.china(doc.expires_at):%Y-%m-%d %H:%M}"


def _store(actor: Actor, resident: Actor, helper: Actor, *, kind, services, actions, expires_at,
           signature=None) -> Authorisation:
    now = clock.now()
    doc = Authorisation(resident_id=resident.user_id, resident_name=cases.mask_name(resident.username),
                        helper_id=helper.user_id, helper_name=staff_name(helper), services=sorted(set(services)),
                        actions=sorted(set(actions)), kind=kind, signature=signature, expires_at=expires_at,
                        status="active" if kind == "resident" else "pending",
                        departments=sorted(helper.department_ids("helper")), created_by=actor.user_id,
                        created_at=now)
    doc.save(force_insert=True)
    audit.record(actor, f"authorisation.{kind}", "authorisation", doc.id, resident=resident.user_id,
                 helper=helper.user_id, services=doc.services, actions=doc.actions,
                 expires_at=expires_at.isoformat(), signature=signature, status=doc.status)
    if kind == "resident":
        _tell(resident.user_id, doc, f"您已授权帮办员 {doc.helper_name} 代办", _scope_text(doc), "granted")
    else:
        _tell(resident.user_id, doc, f"帮办员 {doc.helper_name} 为您登记了代办授权，请确认或拒绝",
              _scope_text(doc) + "。确认前对方不能代您办理。", "recorded")
    return doc


def grant(resident: Actor, helper: Actor, *, services: list, actions: list, expires_at: datetime) -> Authorisation:
    """The resident authorises a helper (named by the delivery room from a username): active at once."""
    if "helper" not in helper.roles:
        raise _field("/helper", "not_a_helper", "proxy.not_a_helper")
    _check_terms(helper, services, actions, expires_at, clock.now())
    return _store(resident, resident, helper, kind="resident", services=services, actions=actions,
                  expires_at=expires_at)


def record_on_site(helper: Actor, find_resident, *, services: list, actions: list, expires_at: datetime,
                   signature: str) -> Authorisation:
    """At the window: the helper records the resident's authorisation with the resident's signature (uploaded by
    the helper, kind signature). `find_resident()` answers the resident's Actor, or None when no verified account
    has that 身份证号 — the helper gets the same pending answer either way (the look-up is no oracle), and only
    the resident's 确认 or a lead's approval makes it active."""
    require_helper(helper)
    throttle.hit("lookups", helper.user_id)      # 429 past the helper's look-ups of the hour
    storage.assert_owned(helper.user_id, [signature])
    if storage.get(helper, signature).kind != "signature":
        raise _field("/signature", "not_a_signature", "proxy.not_a_signature")
    _check_terms(helper, services, actions, expires_at, clock.now())
    resident = find_resident()
    if resident is None:
        audit.record(helper, "authorisation.on_site_unmatched", "authorisation", "", signature=signature)
        return Authorisation(id=ObjectId(), resident_id="", helper_id=helper.user_id, helper_name=staff_name(helper),
                             services=sorted(set(services)), actions=sorted(set(actions)), kind="on_site",
                             status="pending", signature=signature, expires_at=expires_at, created_at=clock.now())
    doc = _store(helper, resident, helper, kind="on_site", services=services, actions=actions,
                 expires_at=expires_at, signature=signature)
    storage.grant_read([signature], f"authorisation:{doc.id}")
    return doc


def _settle(doc: Authorisation, actor: Actor, status: str, action: str) -> Authorisation:
    """pending → active or refused, once, while it is neither revoked nor expired."""
    now = clock.now()
    if doc.status != "pending" or doc.revoked_at is not None or doc.expires_at <= now:
        raise Conflict("proxy.not_pending")
    changes = {"set__status": status, ("set__confirmed_at" if status == "active" else "set__refused_at"): now}
    if status == "active":
        changes["set__confirmed_by"] = actor.user_id
    if not Authorisation.objects(id=doc.id, version=doc.version, revoked_at=None).update_one(inc__version=1,
                                                                                              **changes):
        raise Conflict("proxy.not_pending")
    audit.record(actor, f"authorisation.{action}", "authorisation", doc.id, helper=doc.helper_id,
                 resident=doc.resident_id)
    return doc.reload()


def confirm(resident: Actor, authorisation_id: str) -> Authorisation:
    """确认 on the resident's phone: the helper may act from now on."""
    doc = db.found(Authorisation, authorisation_id, resident_id=resident.user_id)
    return _settle(doc, resident, "active", "confirm")


def refuse(resident: Actor, authorisation_id: str) -> Authorisation:
    """拒绝: the helper never may act under it."""
    doc = db.found(Authorisation, authorisation_id, resident_id=resident.user_id)
    return _settle(doc, resident, "refused", "refuse")


def _supervised(lead: Actor, authorisation_id: str) -> Authorisation:
    doc = db.found(Authorisation, authorisation_id, kind="on_site")
    if doc.helper_id == lead.user_id or not set(doc.departments) & lead.department_ids("lead"):
        raise NotFound()
    return doc


def approve(lead: Actor, authorisation_id: str) -> Authorisation:
    """A lead of one of the helper's departments, not the helper, approves an on-site authorisation on site."""
    doc = _settle(_supervised(lead, authorisation_id), lead, "active", "approve")
    _tell(doc.resident_id, doc, f"帮办员 {doc.helper_name} 的代办授权已由现场负责人核准", _scope_text(doc), "approved")
    return doc


def pending_for(lead: Actor):
    """Leads: the on-site authorisations of their departments' helpers that wait, newest first."""
    return Authorisation.objects(status="pending", departments__in=sorted(lead.department_ids("lead")),
                                 kind="on_site", revoked_at=None, expires_at__gt=clock.now()).order_by("-created_at")


def mine(resident: Actor):
    return Authorisation.objects(resident_id=resident.user_id).order_by("-created_at")


def given_to_me(helper: Actor):
    """Helpers: the authorisations in force for them (active; a pending one is not shown)."""
    require_helper(helper)
    return Authorisation.objects(helper_id=helper.user_id, status="active", revoked_at=None,
                                 expires_at__gt=clock.now()).order_by("-created_at")


def revoke(resident: Actor, authorisation_id: str) -> Authorisation:
    doc = db.found(Authorisation, authorisation_id, resident_id=resident.user_id)
    if doc.revoked_at is None:
        Authorisation.objects(id=doc.id, revoked_at=None).update_one(set__revoked_at=clock.now(), inc__version=1)
        audit.record(resident, "authorisation.revoke", "authorisation", doc.id, helper=doc.helper_id)
    return doc.reload()


def in_force(helper: Actor, resident_id: str, service_code: str, department: str | None,
             actions=ACTIONS) -> Authorisation:
    """The active authorisation covering one of `actions` on this service now; a service outside the helper's
    departments is never covered. AuthorisationPending when only a pending one would cover it, else Forbidden."""
    require_helper(helper)
    if department not in helper.department_ids("helper"):
        raise Forbidden("proxy.not_authorised")
    now = clock.now()
    docs = list(Authorisation.objects(helper_id=helper.user_id, resident_id=resident_id, revoked_at=None,
                                      expires_at__gt=now))
    for doc in docs:
        if any(doc.covers(service_code, a, now) for a in actions) and department in (doc.departments or [department]):
            return doc
    if any(doc.covers(service_code, a, now, state="pending") for doc in docs for a in actions):
        raise AuthorisationPending("proxy.pending")
    raise Forbidden("proxy.not_authorised")
