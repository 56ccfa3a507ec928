"""帮办代办: authorisations and acting on a resident's behalf.

    grant(resident, helper, services=, actions=, expires_at=)            # the resident, in the app
    record_on_site(helper, resident, services=, actions=, expires_at=, signature=)   # the helper, at the window
    revoke(resident, authorisation_id)
    submit_for(helper, resident, service_code=, data=, …)                 # the application is the resident's
    supplement_for(helper, resident, app_id, version, data, …)
    read_for(helper, app_id)

People arrive as `Actor` values resolved by the delivery room (the resident found by their 身份证号 at the window).
A helper must hold the `helper` role; the authorisation must be in force when they act (not revoked, not
expired, covering the service and the action) — checked on every act, so a revocation takes effect at once.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core import audit, clock, db
from core.actor import Actor
from core.errors import Forbidden, Invalid, NotFound
from storage import service as storage
from workflows.cases.applications import cases, service as applications
from workflows.cases.applications.models import Application
from workflows.cases.proxy.models import ACTIONS, Authorisation

MAX_DAYS = 366


def _field(path: str, code: str, key: str) -> Invalid:
    return Invalid(key, errors=[{"path": path, "code": code, "message": key}])


def _require_helper(actor: Actor) -> None:
    if "helper" not in actor.roles:
        raise Forbidden("proxy.not_a_helper")


def _check_terms(actions: list, expires_at: datetime, now: datetime) -> None:
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=timezone.utc)
    if not now < expires_at <= now + timedelta(days=MAX_DAYS):
        raise _field("/expires_at", "out_of_range", "proxy.bad_expiry")
    if not actions or any(a not in ACTIONS for a in actions):
        raise _field("/actions", "invalid", "proxy.bad_actions")


def _store(actor: Actor, resident: Actor, helper: Actor, *, kind, services, actions, expires_at,
           signature=None) -> Authorisation:
    now = clock.now()
    _check_terms(actions, expires_at, now)
    if "helper" not in helper.roles:
        raise _field("/helper", "not_a_helper", "proxy.not_a_helper")
    doc = Authorisation(resident_id=resident.user_id, resident_name=cases.mask_name(resident.username),
                        helper_id=helper.user_id, helper_name=helper.username, services=sorted(set(services)),
                        actions=sorted(set(actions)), kind=kind, signature=signature, expires_at=expires_at,
                        created_by=actor.user_id, created_at=now)
    doc.save(force_insert=True)
    audit.record(actor, f"authorisation.{kind}", "authorisation", doc.id, resident=resident.user_id,
                 helper=helper.user_id, services=doc.services, actions=doc.actions,
                 expires_at=expires_at.isoformat(), signature=signature)
    return doc


def grant(resident: Actor, helper: Actor, *, services: list, actions: list, expires_at: datetime) -> Authorisation:
    """The resident authorises a helper (named by the delivery room from a username)."""
    return _store(resident, resident, helper, kind="resident", services=services, actions=actions,
                  expires_at=expires_at)


def record_on_site(helper: Actor, resident: Actor, *, services: list, actions: list, expires_at: datetime,
                   signature: str) -> Authorisation:
    """At the window: the helper records the resident's authorisation with the resident's signature (uploaded by
    the helper, kind signature)."""
    _require_helper(helper)
    storage.assert_owned(helper.user_id, [signature])
    if storage.get(helper, signature).kind != "signature":
        raise _field("/signature", "not_a_signature", "proxy.not_a_signature")
    doc = _store(helper, resident, helper, kind="on_site", services=services, actions=actions,
                 expires_at=expires_at, signature=signature)
    storage.grant_read([signature], f"authorisation:{doc.id}")
    return doc


def mine(resident: Actor):
    return Authorisation.objects(resident_id=resident.user_id).order_by("-created_at")


def given_to_me(helper: Actor):
    _require_helper(helper)
    return Authorisation.objects(helper_id=helper.user_id, revoked_at=None,
                                 expires_at__gt=clock.now()).order_by("-created_at")


def revoke(resident: Actor, authorisation_id: str) -> Authorisation:
    doc = db.found(Authorisation, authorisation_id, resident_id=resident.user_id)
    if doc.revoked_at is None:
        Authorisation.objects(id=doc.id, revoked_at=None).update_one(set__revoked_at=clock.now(), inc__version=1)
        audit.record(resident, "authorisation.revoke", "authorisation", doc.id, helper=doc.helper_id)
    return doc.reload()


def _authorisation(helper: Actor, resident_id: str, service_code: str, action: str) -> Authorisation:
    """The authorisation in force for this act, or Forbidden."""
    _require_helper(helper)
    now = clock.now()
    for doc in Authorisation.objects(helper_id=helper.user_id, resident_id=resident_id, revoked_at=None,
                                     expires_at__gt=now):
        if doc.covers(service_code, action, now):
            return doc
    raise Forbidden("proxy.not_authorised")


def submit_for(helper: Actor, resident: Actor, *, service_code: str, data: dict, submit: bool = True,
               profile: dict | None = None, idempotency_key: str | None = None) -> tuple[Application, bool]:
    """The application is the resident's; the helper is recorded as who acted (application and timeline)."""
    doc = _authorisation(helper, resident.user_id, service_code, "submit")
    return applications.create(resident, service_code=service_code, data=data, submit=submit, profile=profile,
                               idempotency_key=idempotency_key,
                               on_behalf=applications.OnBehalf(helper, str(doc.id)))


def supplement_for(helper: Actor, resident: Actor, app_id: str, expected_version: int, data: dict,
                   profile: dict | None = None) -> Application:
    app = cases.owned(resident, app_id)
    doc = _authorisation(helper, resident.user_id, app.service_code, "supplement")
    return applications.supplement(resident, app_id, expected_version, data, profile,
                                   on_behalf=applications.OnBehalf(helper, str(doc.id)))


def read_for(helper: Actor, app_id: str) -> Application:
    """An application the helper may act on now (any action), or one they acted on; 404 otherwise."""
    _require_helper(helper)
    app = db.found(Application, app_id)
    if app.helper_id == helper.user_id:
        return app
    now = clock.now()
    docs = Authorisation.objects(helper_id=helper.user_id, resident_id=app.applicant_id, revoked_at=None,
                                 expires_at__gt=now)
    if not any(d.covers(app.service_code, a, now) for d in docs for a in ACTIONS):
        raise NotFound()
    return app
