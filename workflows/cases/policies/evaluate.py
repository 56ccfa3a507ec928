"""Finding the eligible residents of every current policy, in batches, and granting each once per period.

A run walks residents' profiles by `_id` in batches (keyset, no skip). Per batch: one query for the grants this
policy and period already has among them (those are not decided again), one for the valid licences they hold, the
DMN decision for each of the rest in the sandbox, one bulk insert of the grants (a unique index on policy, person
and period makes a repeated or concurrent run insert nothing twice), one bulk write of their notifications, and an
audit record per grant. The inputs (population-registry attributes) stay with the grant; the immutable audit chain
holds only their sha256 (`inputs_hash`), which the grant's inputs can be checked against. Residents found not
eligible are counted in the run's own audit record (not one record each: a city has millions).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bson import ObjectId
from pymongo.errors import BulkWriteError

from core import audit, clock
from core.actor import Actor
from workflows.bpmn import dmn_eval
from workflows.cases.materials.models import PersonalMaterial
from workflows.cases.notify import service as notify
from workflows.cases.policies.models import PolicyGrant, PolicyVersion, ResidentProfile

log = logging.getLogger(__name__)
EVERY = timedelta(hours=1)      # how often the worker runs the policies (grants are once per period anyway)


@dataclass
class Report:
    policies: int = 0
    residents: int = 0          # profiles looked at, over all policies
    eligible: int = 0
    granted: int = 0            # new grants (the eligible minus those granted by an earlier or concurrent run)
    already: int = 0            # skipped: granted this period already
    failed: int = 0             # the decision could not be evaluated for them
    by_policy: dict = field(default_factory=dict)


def period_of(period: str, day: date) -> str:
    return {"once": "once", "year": f"{day.year}", "month": f"{day.year}-{day.month:02d}"}[period]


def age_on(birth: date | None, day: date) -> int | None:
    if birth is None:
        return None
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def inputs_of(profile: dict, licences: list[str], day: date) -> dict:
    """What a decision sees of a resident (names usable in DMN cells); `profile` is a resident_profiles document."""
    facts = {k: v for k, v in (profile.get("attributes") or {}).items() if isinstance(k, str) and k.isidentifier()
             and not k.startswith("_")}
    born = profile.get("birth_date")
    born = born.date() if isinstance(born, datetime) else born
    return {**facts, "age": age_on(born, day), "district": profile.get("district") or "",
            "hukou": profile.get("hukou") or "", "licences": sorted(set(licences))}


def newest_per_code(versions) -> list:
    """One current version per policy: a publish a crash cut between its two writes can leave the one before it
    marked current too, and the newest is the one published."""
    seen, chosen = set(), []
    for version in versions:          # ordered by code, newest number first
        if version.code not in seen:
            seen.add(version.code)
            chosen.append(version)
    return chosen


def evaluate(actor: Actor | None = None, *, now: datetime | None = None, batch: int = 200,
             policy_code: str | None = None, stop=lambda: False) -> Report:
    actor = actor or Actor.system()
    now = now or clock.now()
    day = clock.china(now).date()
    report = Report()
    query = PolicyVersion.objects(current=True, **({"code": policy_code} if policy_code else {}))
    for version in newest_per_code(query.order_by("code", "-number")):
        if stop():
            break
        report.policies += 1
        counts = _run_policy(actor, version, day, batch, report, stop)
        report.by_policy[version.code] = counts
        audit.record(actor, "policy.evaluate", "policy", version.code, version=version.number,
                     period=period_of(version.body.period, day), **counts)
    return report


def _run_policy(actor, version: PolicyVersion, day: date, batch: int, report: Report, stop) -> dict:
    engine = dmn_eval.compile_decision(version.body.dmn_xml, version.body.decision_id)
    period = period_of(version.body.period, day)
    counts = {"residents": 0, "eligible": 0, "granted": 0, "already": 0, "failed": 0}
    last = None
    # raw documents: building a mongoengine object per resident cost more than the decision itself
    profiles_collection = ResidentProfile._get_collection()
    grants_collection, materials = PolicyGrant._get_collection(), PersonalMaterial._get_collection()
    while not stop():
        profiles = list(profiles_collection.find({"_id": {"$gt": last}} if last else {}).sort("_id", 1).limit(batch))
        if not profiles:
            break
        last = profiles[-1]["_id"]
        ids = [p["_id"] for p in profiles]
        done = {g["user_id"] for g in grants_collection.find(
            {"policy_code": version.code, "user_id": {"$in": ids}, "period": period}, {"user_id": 1, "_id": 0})}
        held: dict = {}
        for m in materials.find({"owner_id": {"$in": ids}, "source": "licence", "status": "valid"},
                                {"owner_id": 1, "kind": 1, "valid_until": 1, "_id": 0}):
            until = m.get("valid_until")
            if until is None or (until.date() if isinstance(until, datetime) else until) >= day:
                held.setdefault(m["owner_id"], []).append(m["kind"])
        grants = []
        for profile in profiles:
            counts["residents"] += 1
            if profile["_id"] in done:
                counts["already"] += 1
                continue
            inputs = inputs_of(profile, held.get(profile["_id"], []), day)
            try:
                outputs = dmn_eval.decide(engine, inputs)
            except dmn_eval.DecisionError as exc:
                counts["failed"] += 1
                log.warning("policy %s: resident %s not decided: %s", version.code, profile["_id"], exc)
                continue
            if outputs.get("eligible") is True:
                counts["eligible"] += 1
                grants.append(PolicyGrant(id=ObjectId(), policy_code=version.code, policy_version=version.number,
                                    policy_name=version.body.name, benefit=version.body.benefit,
                                    user_id=profile["_id"], period=period, inputs=_plain(inputs),
                                    outputs=_plain(outputs), created_at=clock.now()))
        counts["granted"] += _insert(actor, version, grants)
        if len(profiles) < batch:
            break
    for key, value in counts.items():
        setattr(report, key, getattr(report, key) + value)
    return counts


def _insert(actor, version: PolicyVersion, grants: list[PolicyGrant]) -> int:
    """One bulk insert; a grant another run made meanwhile is a duplicate and is left out of what follows."""
    if not grants:
        return 0
    collection = PolicyGrant._get_collection()
    try:
        collection.insert_many([g.to_mongo().to_dict() for g in grants], ordered=False)
        inserted = grants
    except BulkWriteError as exc:
        failed = {e["index"] for e in exc.details.get("writeErrors", [])}
        inserted = [g for i, g in enumerate(grants) if i not in failed]
    for grant in inserted:
        audit.record(actor, "grant.offer", "grant", grant.id, policy=version.code, version=version.number,
                     user=grant.user_id, period=grant.period, inputs_hash=inputs_hash(grant.inputs),
                     outputs=grant.outputs)
        notify.enqueue("grant_offered", [grant.user_id], title=f"{version.body.name}：您符合条件，无需申请",
                       body=version.body.benefit or "请在「免申即享」中确认或放弃", data={"grant_id": str(grant.id)},
                       dedupe=f"grant:{grant.id}")
    return len(inserted)


def inputs_hash(inputs: dict) -> str:
    """The sha256 of a grant's inputs as canonical JSON: what the audit chain keeps of them."""
    canonical = json.dumps(inputs, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _plain(value):
    """Decision inputs and outputs as stored (dates as ISO text, decimals as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
