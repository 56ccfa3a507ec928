"""Engine CPU as a budget (issue 14, item 1): per account for designers' test runs, per published process
version for everyone else (a breaker).

The account budget lives in MongoDB, so it holds across gunicorn workers and app instances: one `engine_quotas`
document per account keeps the leases of its running actions (token → until, epoch seconds) and the CPU time its
actions spent per 10-second bucket. An action takes a lease with one findAndModify, whose answer says how many
actions run and what the last minute cost; it gives the lease back with one update that adds its CPU time. A
lease a killed worker never gave back runs out after `lease_seconds`. The budget is checked when an action
starts, so an account overshoots by at most the actions it runs at once, each bounded by the per-action limit.

The breaker per published version, attributed per account and half-open, is workflows/bpmn/breaker.py; this
module counts every live action's limit hits toward it.
"""
from __future__ import annotations

import functools
import logging
import math
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass

import mongoengine as me
from pymongo.errors import PyMongoError

from core import clock, db, metrics
from core.actor import Actor
from core.errors import DomainError, TooManyRequests
from workflows.bpmn import breaker as version_breaker
from workflows.bpmn.breaker import limit_hit

log = logging.getLogger(__name__)

BUCKET = 10            # seconds per CPU bucket
WINDOW = 60            # the account budget is per minute
LIMIT_KINDS = ("timeout", "memory")   # incidents at a CPU, step or size limit (not a script's own error)


@dataclass(frozen=True)
class Policy:
    cpu_ms_per_minute: int = 10_000      # engine CPU one account's test-run actions may spend per minute
    concurrent_actions: int = 2          # one account's test-run actions at once (across workers and instances)
    lease_seconds: int = 120             # a lease not given back (a killed worker) counts no longer than this
    breaker_hits: int = 5                # limit hits of one published version …
    breaker_window_seconds: int = 600    # … within this window throttle the account, and open the breaker …
    breaker_accounts: int = 3            # … when that many distinct accounts hit it
    breaker_cooldown_seconds: int = 300  # throttled accounts wait this long; an open breaker then half-opens

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        return cls(cpu_ms_per_minute=settings.engine_cpu_ms_per_minute,
                   concurrent_actions=settings.engine_concurrent_actions,
                   breaker_hits=settings.breaker_hits, breaker_window_seconds=settings.breaker_window_seconds,
                   breaker_accounts=settings.breaker_accounts,
                   breaker_cooldown_seconds=settings.breaker_cooldown_seconds)


_policy = Policy()


def configure(policy: Policy) -> None:
    global _policy
    _policy = policy


def policy() -> Policy:
    return _policy


version_breaker.register_policy(policy)


class EngineQuota(me.Document):
    """One account's running engine actions and recent CPU time (written with raw operators only)."""
    id = me.StringField(primary_key=True)            # "account:<user id>"
    leases = me.DictField()                          # token → until (epoch seconds)
    cpu = me.DictField()                             # bucket start (epoch seconds, as text) → CPU ms
    updated_at = me.DateTimeField()

    meta = {"collection": "engine_quotas",
            "indexes": [{"fields": ["updated_at"], "expireAfterSeconds": 86400}]}


# -- the account budget ----------------------------------------------------------------------------------------

def _take_lease(key: str, token: str, now: float, until: float) -> dict:
    found = db.upsert_and_read_raw(EngineQuota._get_collection(), {"_id": key},
                                   {"$set": {f"leases.{token}": until, "updated_at": clock.now()}})
    return found if found is not None else {"leases": {token: until}, "cpu": {}}


def _spent(cpu: dict, now: float) -> tuple[int, list[tuple[float, int]], list[str]]:
    """CPU ms of the last minute, its buckets oldest first, and the buckets that no longer count."""
    recent, old = [], []
    for start, ms in cpu.items():
        try:
            at = float(start)
        except ValueError:
            old.append(start)
            continue
        if at + BUCKET > now - WINDOW:
            recent.append((at, ms))
        else:
            old.append(start)
    recent.sort()
    return sum(ms for _, ms in recent), recent, old


def _retry_after(spent: int, recent: list, budget: int, now: float) -> int:
    """Seconds until enough of the oldest buckets leave the minute for the account to be under budget."""
    for start, ms in recent:
        spent -= ms
        if spent < budget:
            return max(1, math.ceil(start + BUCKET + WINDOW - now))
    return WINDOW


# account → (until, spent, limit): a spent budget cannot come back before its oldest spending leaves the minute,
# so until then this process refuses the account without asking MongoDB (a client hammering past its 429s
# costs no writes)
_spent_until: dict[str, tuple[float, int, int]] = {}


def _refuse_spent(key: str, until: float, spent: int, limit: int, now: float):
    if len(_spent_until) > 10_000:
        for other, held in list(_spent_until.items()):
            if held[0] <= now:
                _spent_until.pop(other, None)
    _spent_until[key] = (until, spent, limit)
    metrics.ENGINE_REFUSALS.labels("cpu_budget").inc()
    return TooManyRequests("engine.cpu_budget", retry_after=max(1, math.ceil(until - now)),
                           params={"limit": limit, "spent": spent})


@contextmanager
def account_action(actor: Actor):
    """Run one engine action (a designer's test run) within the account's budget: 429 with Retry-After when the
    account already runs `concurrent_actions` actions or spent `cpu_ms_per_minute` in the last minute."""
    p = _policy
    key = f"account:{actor.user_id}"
    token = secrets.token_hex(8)
    now = clock.now().timestamp()
    held = _spent_until.get(key)
    if held is not None and held[0] > now and held[2] == p.cpu_ms_per_minute:
        raise _refuse_spent(key, held[0], held[1], held[2], now)
    found = _take_lease(key, token, now, now + p.lease_seconds)
    leases = found.get("leases") or {}
    running = sum(1 for t, until in leases.items() if t == token or until > now)
    stale = [t for t, until in leases.items() if t != token and until <= now]
    spent, recent, old = _spent(found.get("cpu") or {}, now)
    tidy = {**{f"leases.{t}": "" for t in stale}, **{f"cpu.{b}": "" for b in old}}
    if running > p.concurrent_actions or spent >= p.cpu_ms_per_minute:
        EngineQuota._get_collection().update_one({"_id": key}, {"$unset": {f"leases.{token}": "", **tidy}})
        if spent >= p.cpu_ms_per_minute:
            until = now + _retry_after(spent, recent, p.cpu_ms_per_minute, now)
            raise _refuse_spent(key, until, spent, p.cpu_ms_per_minute, now)
        metrics.ENGINE_REFUSALS.labels("concurrent").inc()
        raise TooManyRequests("engine.too_many_actions", retry_after=1, params={"limit": p.concurrent_actions})
    started = time.thread_time()
    try:
        yield
    finally:
        used = math.ceil((time.thread_time() - started) * 1000)
        bucket = str(int(now // BUCKET * BUCKET))
        EngineQuota._get_collection().update_one({"_id": key}, {
            "$unset": {f"leases.{token}": "", **tidy}, "$inc": {f"cpu.{bucket}": used},
            "$set": {"updated_at": clock.now()}})


def account_budget(func):
    """Decorates a designer's test-run action (`func(actor, …)`): it runs within the account's budget."""
    @functools.wraps(func)
    def wrapper(actor: Actor, *args, **kwargs):
        with account_action(actor):
            return func(actor, *args, **kwargs)
    return wrapper


# -- every engine action: metrics, and limit hits toward the breaker -------------------------------------------

@dataclass(frozen=True)
class _Hit:
    kind: str
    element_id: str = ""
    message: str = ""
    action: str = ""


def observed(func):
    """Decorates workflows.bpmn.instances.start (`start(actor, version, …, is_test=…)`) and `_act(actor, instance,
    action, …)`: CPU time and incidents by process version go to the metrics, and a live action that stopped at
    a CPU or step limit counts toward its version's breaker."""
    is_start = func.__name__ == "start"

    @functools.wraps(func)
    def wrapper(actor, subject, *args, **kwargs):
        if is_start:
            ids = (subject.id, subject.key, subject.version, subject.department)
            action, is_test = "start", kwargs.get("is_test", False)
        else:
            ids = (subject.process_version_id, subject.key, subject.process_version_number, subject.department)
            action, is_test = (args[0] if args else kwargs.get("action", "")), subject.is_test
        if not is_test:
            version_breaker.refuse_throttled(ids[0], actor)   # 429: this account's actions keep hitting limits here
        started, hit = time.thread_time(), None
        try:
            result = func(actor, subject, *args, **kwargs)
            if is_start and result.status == "incident" and result.incidents:
                last = result.incidents[-1]
                hit = _Hit(last.kind, last.element_id, last.message, "start")
            elif is_start and not is_test:
                version_breaker.probe_passed(ids[0])     # a half-open breaker's probe ran: it closes
            return result
        except DomainError as exc:
            if exc.code == "workflow_incident" and exc.errors:
                item = exc.errors[0]
                hit = _Hit(item.get("code", ""), item.get("element_id", ""), item.get("message", ""), action)
            raise
        finally:
            process = f"{ids[1]}@{ids[2]}"
            metrics.ENGINE_CPU_SECONDS.labels(process, action).observe(time.thread_time() - started)
            if hit is not None:
                metrics.ENGINE_INCIDENTS.labels(process, hit.kind).inc()
                if hit.kind in LIMIT_KINDS and not is_test:
                    try:
                        if limit_hit(*ids, hit, account=actor.user_id if actor is not None else ""):
                            metrics.BREAKERS_OPENED.labels(process).inc()
                    except PyMongoError:   # the incident itself is recorded; the count misses one hit
                        log.exception("breaker: could not count a limit hit of %s", process)
    return wrapper
