"""The timer worker's side of instances: which are due, leasing them (one at a time, or a chunk at once), and
firing each under its lease. `zhangban worker` and `zhangban workflows tick` call `fire_due_timers` with the case
layer's `on_step` (workflows/cases/applications/case_state.py `follow_instance`): the engine hands each step up and
never calls up itself."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from bson import ObjectId

from core import clock
from core.actor import Actor
from core.errors import Conflict
from workflows.bpmn.instances import IncidentRecorded, fire_timers
from workflows.bpmn.models import Instance


def due_ids(now: datetime | None = None, limit: int = 100) -> list:
    """Ids of instances whose next timer is due and that no live lease holds, soonest first: one indexed read;
    the worker then takes each with `claim`. (A searching claim — findAndModify on the due range — read every
    due instance each time on the test server: 3 claims/s with 1,000 due.)"""
    now = now or clock.now()
    return [d["_id"] for d in Instance._get_collection().find(
        {"next_timer_at": clock.due_by(now), "status": {"$in": ["running", "incident"]},
         "lease_until": clock.free_at(now)},
        {"_id": 1}).sort("next_timer_at", 1).limit(limit)]


def claim(instance_id, now: datetime | None = None, lease: timedelta = timedelta(minutes=5)) -> Instance | None:
    """Take one due instance for a worker: a conditional write by _id sets the lease, so no other worker takes it
    until the lease runs out (a worker that died). The version is left alone: firing writes conditionally on it,
    so even two workers past an expired lease cannot both fire."""
    now = now or clock.now()
    if not Instance._get_collection().update_one(
            {"_id": instance_id, "next_timer_at": clock.due_by(now), "status": {"$in": ["running", "incident"]},
             "lease_until": clock.free_at(now)},
            {"$set": {"lease_until": now + lease}}).modified_count:
        return None    # another worker took it, or it moved on
    return Instance.objects(id=instance_id).first()


def claim_many(instance_ids: list, now: datetime | None = None,
               lease: timedelta = timedelta(minutes=5)) -> list[Instance]:
    """Take several due instances at once: one write leases every one still free under a token of this call,
    one read loads those that carry it (two commands for the lot, where `claim` costs two each). What another
    worker leased first keeps its own token and is not returned."""
    if not instance_ids:
        return []
    now = now or clock.now()
    token = str(ObjectId())
    Instance._get_collection().update_many(
        {"_id": {"$in": list(instance_ids)}, "next_timer_at": clock.due_by(now),
         "status": {"$in": ["running", "incident"]}, "lease_until": clock.free_at(now)},
        {"$set": {"lease_until": now + lease, "lease_token": token}})
    found = {i.id: i for i in Instance.objects(id__in=list(instance_ids), lease_token=token)}
    return [found[i] for i in instance_ids if i in found]


@dataclass
class TimerRun:
    """What one pass of the timer worker did, per claimed instance."""
    fired: int = 0      # its due timers ran and the new state was written
    failed: int = 0     # they failed: the instance now shows an incident
    skipped: int = 0    # someone acted on it first (it changed under the worker): nothing fired


CLAIM_CHUNK = 20         # instances leased together: a chunk is fired well within the lease


def fire_due_timers(actor: Actor | None = None, now: datetime | None = None, limit: int = 100, *,
                    lease: timedelta = timedelta(minutes=5), stop=None, spread: bool = False,
                    on_step: Callable | None = None, on_incident: Callable | None = None) -> TimerRun:
    """One pass over the instances whose timers are due: read their ids once, lease them a chunk at a time
    (`claim_many`) and fire each; `on_step(instance)` gets each step that fired, `on_incident(instance id)` each
    that failed. `stop()` ends the pass between
    instances (what is leased and not fired is released); `spread` shuffles the page, so several workers reading the
    same page start at different places."""
    actor = actor or Actor.system()
    run = TimerRun()
    due = due_ids(now, limit)
    if spread:
        random.shuffle(due)
    for start_at in range(0, len(due), CLAIM_CHUNK):
        if stop is not None and stop():
            break
        claimed_at, taken = now or clock.now(), time.monotonic()
        chunk = claim_many(due[start_at:start_at + CLAIM_CHUNK], claimed_at, lease)
        for index, instance in enumerate(chunk):
            if stop is not None and stop():
                _release(chunk[index:])
                return run
            if time.monotonic() - taken > lease.total_seconds() / 2:
                # the chunk's lease is running out (a slow pass): take this one afresh, or another worker that
                # took it after the lease ran out could fire it, then this one fire it again
                claimed_at, instance = now or clock.now(), claim(instance.id, now or clock.now(), lease)
                if instance is None:
                    continue
            _fire_claimed(actor, instance, now, claimed_at, lease, run, on_step, on_incident)
    return run


def _fire_claimed(actor: Actor, instance: Instance, now, claimed_at, lease, run: TimerRun, on_step,
                  on_incident=None) -> None:
    if instance.status not in ("running", "incident") or instance.next_timer_at is None \
            or clock.as_utc(instance.next_timer_at) > claimed_at:
        return       # read after another worker fired it (it took the instance once our lease had run out)
    try:
        instance = fire_timers(actor, instance, now)   # fire what the claim saw as due (now: the same clock)
    except IncidentRecorded:
        run.failed += 1
        if on_incident is not None:
            on_incident(instance.id)
    except Conflict:
        run.skipped += 1
    else:
        run.fired += 1
        if on_step is not None:
            on_step(instance)
        if instance.next_timer_at is not None and clock.as_utc(instance.next_timer_at) <= claimed_at:
            # fired, yet still due (a timer that cannot fire yet): leased again, so it is not taken pass after
            # pass (a write and an audit record each time) — it comes back when the lease runs out
            claim(instance.id, claimed_at, lease)


def _release(leased: list[Instance]) -> None:
    """A stopping worker gives back what it leased and did not fire (another takes it at once)."""
    if leased:
        Instance._get_collection().update_many(
            {"_id": {"$in": [i.id for i in leased]}, "lease_token": leased[0].lease_token},
            {"$set": {"lease_until": None}})
