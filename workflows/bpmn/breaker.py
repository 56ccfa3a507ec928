"""The per-version breaker (issue 14, item 1; attributed per account and half-open since issue 23).

Every live (not test) action that stops at a CPU or step limit pushes a hit — with the account that acted — onto
its version's `process_breakers` document (one findAndModify). Then:
- the account: `breaker_hits` of its hits within `breaker_window_seconds` throttle that account on that version for
  `breaker_cooldown_seconds` — its submissions and actions there answer 429 with Retry-After, before the engine
  runs; everybody else goes on;
- the version: `breaker_hits` hits within the window from at least `breaker_accounts` distinct accounts open the
  breaker — submissions to services running it answer 503 naming the service, before the engine runs. One account
  alone never suspends a service for every resident.
- half-open: `breaker_cooldown_seconds` after it opened, one submission is let through (a lease on the document
  picks one among racing requests and workers); if its start runs without a limit hit the breaker closes, if it
  hits one the breaker opens again for another cool-down. An admin can close it at any time.
The version's designers see the hits. Open breakers and throttled accounts are read once every few seconds per
process (one indexed query), not once per submission.
"""
from __future__ import annotations

import contextvars
import math
import threading
import time
from datetime import timedelta

import mongoengine as me

from core import audit, clock, db, metrics
from core.actor import Actor
from core.errors import Forbidden, TooManyRequests, Unavailable

MAX_HITS = 50          # hits kept per version
OPEN_CACHE_SECONDS = 5.0
PROBE_LEASE_SECONDS = 60  # a half-open probe that never reported back (秒批 decided, the worker died) expires


def _default_policy():
    from types import SimpleNamespace
    return SimpleNamespace(breaker_hits=5, breaker_window_seconds=600, breaker_accounts=3, breaker_cooldown_seconds=300)


_policy_of = _default_policy
# the version this request's submission probes while its breaker is half-open (set by refuse_if_open)
_probing: contextvars.ContextVar = contextvars.ContextVar("zhangban_breaker_probe", default=None)


def register_policy(policy_of) -> None:
    """workflows.bpmn.quotas hands in how to read its Policy (breaker_hits, …_window_seconds, …_accounts, …): it
    imports this module, so this module cannot import it."""
    global _policy_of
    _policy_of = policy_of


class Breaker(me.Document):
    """A published process version's recent limit hits, and whether new submissions to it are refused."""
    id = me.ObjectIdField(primary_key=True)          # the ProcessVersion's id
    key = me.StringField()
    number = me.IntField()
    department = me.StringField()
    hits = me.ListField(me.DictField())              # at, kind, element_id, message, action, account
    open = me.BooleanField(default=False)
    opened_at = me.DateTimeField(null=True)
    closed_at = me.DateTimeField(null=True)          # hits before this no longer count
    closed_by = me.StringField(default="")
    accounts = me.DictField()                        # account → until (epoch seconds): throttled on this version
    throttled_until = me.DateTimeField(null=True)    # the latest of those (indexed: what the cache reads)
    probe_until = me.DateTimeField(null=True)        # a half-open probe is under way until then

    meta = {"collection": "process_breakers", "indexes": ["open", "department", "throttled_until"]}


class _Watched:
    """Open versions and throttled accounts, read at most every few seconds per process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open: dict = {}          # version id → opened_at (epoch seconds)
        self.throttled: dict = {}     # version id → {account: until}
        self.read_at = -math.inf

    def _read(self) -> None:
        if time.monotonic() - self.read_at <= OPEN_CACHE_SECONDS:
            return
        query = {"$or": [{"open": True}, {"throttled_until": {"$gt": clock.now()}}]}
        opened, throttled = {}, {}
        for d in Breaker._get_collection().find(query, {"open": 1, "opened_at": 1, "accounts": 1}):
            if d.get("open"):
                opened[d["_id"]] = clock.as_utc(d["opened_at"]).timestamp() if d.get("opened_at") else 0.0
            if d.get("accounts"):
                throttled[d["_id"]] = dict(d["accounts"])
        with self.lock:
            self.open, self.throttled, self.read_at = opened, throttled, time.monotonic()

    def opened_at(self, version_id) -> float | None:
        self._read()
        return self.open.get(version_id)

    def until(self, version_id, account: str) -> float:
        self._read()
        return self.throttled.get(version_id, {}).get(account, 0.0)

    def forget(self) -> None:
        with self.lock:
            self.read_at = -math.inf


OPEN = _Watched()


def _throttled_until(version_id, actor: Actor | None) -> float:
    account = actor.user_id if actor is not None else ""
    return 0.0 if not account or account == "system" else OPEN.until(version_id, account)


def refuse_throttled(version_id, actor: Actor | None) -> None:
    """429 before the engine runs while this account is throttled on this version (its own actions kept hitting
    limits there)."""
    now = clock.now().timestamp()
    until = _throttled_until(version_id, actor)
    if until > now:
        metrics.ENGINE_REFUSALS.labels("account_throttled").inc()
        raise TooManyRequests("engine.account_throttled", retry_after=max(1, math.ceil(until - now)))


def refuse_if_open(version, service_code: str, service_name: str, actor: Actor | None = None) -> None:
    """503 before the engine runs, naming the service, while the version's breaker is open — except for the one
    submission a half-open breaker lets through after its cool-down; 429 while the account is throttled there."""
    _probing.set(None)
    opened = OPEN.opened_at(version.id)
    if opened is None:
        refuse_throttled(version.id, actor)
        return
    now = clock.now()
    if now.timestamp() >= opened + _policy_of().breaker_cooldown_seconds \
            and _throttled_until(version.id, actor) <= now.timestamp() and _claim_probe(version.id, now):
        _probing.set(version.id)     # half-open: this one runs; its outcome closes or reopens the breaker
        return
    metrics.ENGINE_REFUSALS.labels("suspended").inc()
    raise Unavailable("application.service_suspended", params={"service": service_name or service_code},
                      errors=[{"path": "/service_code", "code": "service_suspended",
                               "message": f"{service_code}: process {version.key} v{version.version} is "
                                          f"suspended after repeated CPU or step limit hits"}])


def _claim_probe(version_id, now) -> bool:
    free = {"$or": [{"probe_until": None}, {"probe_until": {"$lte": now}}]}
    cooled = now - timedelta(seconds=_policy_of().breaker_cooldown_seconds)   # not a stale cache's idea of it
    return bool(Breaker._get_collection().update_one(
        {"_id": version_id, "open": True, "opened_at": {"$lte": cooled}, **free},
        {"$set": {"probe_until": now + timedelta(seconds=PROBE_LEASE_SECONDS)}}).modified_count)


def probe_passed(version_id) -> None:
    """The start observed (workflows.bpmn.quotas.observed) ran without a limit hit: a half-open probe closes the
    breaker."""
    if _probing.get() != version_id:
        return
    _probing.set(None)
    now = clock.now()
    if Breaker._get_collection().update_one(
            {"_id": version_id, "open": True, "probe_until": {"$gt": now}},
            {"$set": {"open": False, "closed_at": now, "closed_by": "half-open", "probe_until": None}}).modified_count:
        OPEN.forget()
        audit.record(None, "process.version.resume", "process_version", version_id, by="half-open probe")


def limit_hit(version_id, key: str, number: int, department: str, incident, account: str = "") -> bool:
    """Count one live action that stopped at a limit: throttle the account past its share, open the breaker when
    enough accounts hit it (or reopen a half-open one). True when this hit opened it."""
    p = _policy_of()
    now = clock.now()
    _probing.set(None)
    hit = {"at": now, "kind": incident.kind, "element_id": incident.element_id or "",
           "message": (incident.message or "")[:300], "action": incident.action or "", "account": account}
    collection = Breaker._get_collection()
    found = db.upsert_and_read_raw(collection, {"_id": version_id},
                                   {"$push": {"hits": {"$each": [hit], "$slice": -MAX_HITS}},
                                    "$set": {"key": key, "number": number, "department": department}})
    if found.get("open"):
        if found.get("probe_until"):    # a half-open probe failed, or an action during one: another cool-down
            collection.update_one({"_id": version_id, "open": True},
                                  {"$set": {"opened_at": now, "probe_until": None}})
            OPEN.forget()
        return False
    since = now.timestamp() - p.breaker_window_seconds
    closed = clock.as_utc(found["closed_at"]).timestamp() if found.get("closed_at") else -math.inf
    counted = [h for h in found.get("hits", []) if clock.as_utc(h["at"]).timestamp() > max(since, closed)]
    mine = [h for h in counted if h.get("account", "") == account]
    if account and account != "system" and len(mine) >= p.breaker_hits:
        until = now + timedelta(seconds=p.breaker_cooldown_seconds)
        collection.update_one({"_id": version_id}, {"$set": {f"accounts.{account}": until.timestamp()},
                                                    "$max": {"throttled_until": until}})
        OPEN.forget()
    accounts = {h.get("account", "") for h in counted}
    if len(counted) < p.breaker_hits or len(accounts) < p.breaker_accounts:
        return False
    if not collection.update_one({"_id": version_id, "open": {"$ne": True}},
                                 {"$set": {"open": True, "opened_at": now, "probe_until": None}}).modified_count:
        return False            # another worker opened it
    OPEN.forget()
    audit.record(None, "process.version.suspend", "process_version", version_id, key=key, version=number,
                 hits=len(counted), accounts=len(accounts), kind=incident.kind, element_id=incident.element_id or "")
    return True


def breaker(actor: Actor, key: str, number: int) -> dict:
    """What the version's designers (and admins) see: its limit hits and whether submissions are refused."""
    from workflows.bpmn import service   # late: instances (which service serves) imports this module

    return breaker_view(service.get_version(actor, key, number))


def breaker_view(version) -> dict:
    p = _policy_of()
    found = Breaker.objects(id=version.id).first()
    hits = list(found.hits) if found else []
    return {"key": version.key, "version": version.version, "open": bool(found and found.open),
            "opened_at": found.opened_at if found else None, "closed_at": found.closed_at if found else None,
            "closed_by": found.closed_by if found else "", "hits": hits[::-1],
            "threshold": {"hits": p.breaker_hits, "window_seconds": p.breaker_window_seconds,
                          "accounts": p.breaker_accounts, "cooldown_seconds": p.breaker_cooldown_seconds}}


def close(actor: Actor, key: str, number: int) -> dict:
    """An admin re-enables submissions to the version; earlier hits no longer count, throttled accounts go free."""
    from workflows.bpmn import service

    if not actor.is_admin:
        raise Forbidden()
    version = service.get_version(actor, key, number)
    now = clock.now()
    changed = Breaker.objects(id=version.id, open=True).update_one(
        set__open=False, set__closed_at=now, set__closed_by=actor.user_id, set__probe_until=None)
    Breaker.objects(id=version.id).update_one(set__accounts={}, set__throttled_until=None)
    OPEN.forget()
    if changed:
        audit.record(actor, "process.version.resume", "process_version", version.id, key=version.key,
                     version=version.version)
    return breaker_view(version)
