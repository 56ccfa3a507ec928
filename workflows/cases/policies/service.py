"""Defining and publishing policies, keeping residents' profile attributes, and the resident's side of grants.

A policy names a DMN decision (checked at upload like a process's DMN: every problem by path and element id)
over the inputs `evaluate.inputs_of` builds: age, district, hukou, licences (the kinds of valid 电子证照 held) and
the profile's further attributes. A department's designers (or admins) draft and publish; published versions are
immutable and one is current per code.
"""
from __future__ import annotations

from datetime import date

from mongoengine.errors import NotUniqueError

from core import audit, clock, db
from core.actor import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.bpmn import dmn_eval
from workflows.cases.policies.models import PolicyGrant, PolicyDraft, PolicyBody, PolicyVersion, ResidentProfile


# -- designers ---------------------------------------------------------------------------------------------------

def _check(actor: Actor, body: dict) -> None:
    if not actor.may_design(body["department"]):
        raise Forbidden()
    problems = dmn_eval.problems(body["dmn_xml"])
    if not problems and body["decision_id"] not in dmn_eval.decision_ids(body["dmn_xml"]):
        problems = [{"path": "/decision_id", "code": "unknown_decision", "message": "policy.unknown_decision"}]
    if problems:
        raise Invalid("policy.invalid", errors=problems)


def create(actor: Actor, *, code: str, **body) -> PolicyDraft:
    _check(actor, body)
    policy = PolicyDraft(code=code, body=PolicyBody(**body))
    try:
        policy.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("policy.exists", errors=[{"path": "/code", "code": "exists",
                                                  "message": "policy.exists"}]) from None
    audit.record(actor, "policy.create", "policy", code, decision=body["decision_id"])
    return policy


def _policy(actor: Actor, code: str) -> PolicyDraft:
    policy = PolicyDraft.objects(code=code).first()
    if policy is None or not actor.may_design(policy.body.department):
        raise NotFound()
    return policy


def get(actor: Actor, code: str) -> PolicyDraft:
    return _policy(actor, code)


def list_for(actor: Actor) -> list[PolicyDraft]:
    actor.require_designer()
    query = PolicyDraft.objects.order_by("code")
    return list(query) if actor.is_admin else [p for p in query if actor.may_design(p.body.department)]


def update(actor: Actor, code: str, expected_version: int, **changes) -> PolicyDraft:
    policy = _policy(actor, code)
    body = {**policy.body.to_mongo().to_dict(), **{k: v for k, v in changes.items() if v is not None}}
    body.pop("_cls", None)
    _check(actor, body)
    if not PolicyDraft.objects(id=policy.id, version=expected_version).update_one(
            set__body=PolicyBody(**body), set__updated_at=clock.now(), inc__version=1):
        raise Conflict("policy.changed")
    audit.record(actor, "policy.update", "policy", code, fields=sorted(changes))
    return policy.reload()


def publish(actor: Actor, code: str) -> PolicyVersion:
    """Freeze the draft as the next version and make it current (residents are decided by it from now on)."""
    policy = _policy(actor, code)
    _check(actor, policy.body.to_mongo().to_dict())
    # after the newest stored version, not the draft's count: a crash between the writes below leaves the draft a
    # number behind, and every later publish would then collide with the stored version
    newest = PolicyVersion.objects(code=code).only("number").order_by("-number").first()
    number = max(policy.published, newest.number if newest else 0) + 1
    try:
        version = PolicyVersion(code=code, number=number, body=policy.body, published_by=actor.user_id)
        version.save(force_insert=True)
    except NotUniqueError:
        raise Conflict("policy.changed") from None
    # a crash here leaves the one before marked current too: the newest current one decides (evaluate.py)
    PolicyVersion.objects(code=code, number__lt=number, current=True).update(set__current=False)
    PolicyDraft.objects(id=policy.id, published__lt=number).update_one(set__published=number, inc__version=1)
    audit.record(actor, "policy.publish", "policy", code, version=number)
    return version


# -- residents' profile attributes (from the population registry) --------------------------------------------------

def put_profile(actor: Actor, user_id: str, *, birth_date: date | None, district: str, hukou: str,
                attributes: dict) -> ResidentProfile:
    if not actor.is_admin:
        raise Forbidden()
    ResidentProfile.objects(id=user_id).update_one(
        upsert=True, set__birth_date=birth_date, set__district=district, set__hukou=hukou,
        set__attributes=attributes, set__updated_at=clock.now())
    audit.record(actor, "resident_profile.put", "user", user_id, fields=["birth_date", "district", "hukou"] +
                 sorted(attributes))
    return ResidentProfile.objects(id=user_id).first()


# -- the resident's grants ---------------------------------------------------------------------------------------

def my_grants(actor: Actor, status: str | None = None):
    return PolicyGrant.objects(user_id=actor.user_id, **({"status": status} if status else {})).order_by("-created_at")


def _my_grant(actor: Actor, grant_id: str) -> PolicyGrant:
    return db.found(PolicyGrant, grant_id, user_id=actor.user_id)


def get_grant(actor: Actor, grant_id: str) -> PolicyGrant:
    return _my_grant(actor, grant_id)


def answer(actor: Actor, grant_id: str, expected_version: int, *, confirm: bool,
           reason: str = "") -> PolicyGrant:
    """The resident confirms (确认享受) or declines (放弃) a grant offered to them; once."""
    grant = _my_grant(actor, grant_id)
    if grant.status != "offered":
        raise Conflict("grant.already_answered")
    status = "confirmed" if confirm else "declined"
    if not PolicyGrant.objects(id=grant.id, version=expected_version, status="offered").update_one(
            set__status=status, set__reason=reason, set__decided_at=clock.now(), inc__version=1):
        raise Conflict("grant.changed")
    audit.record(actor, "grant.confirm" if confirm else "grant.decline", "grant", grant.id,
                 policy=grant.policy_code, period=grant.period, reason=reason)
    return grant.reload()
