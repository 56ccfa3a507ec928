"""The background worker's loop (`zhangban worker`): fire due BPMN timers, send reminders and escalations, deliver
notifications, purge old test runs — round after round, until told to stop.

Several workers may run at once. Every item is claimed with a conditional write and a lease, so no two workers
do the same one, and a worker that dies leaves only leases that run out: another worker then takes the item.
A timer fires at most once because firing writes the instance conditionally on its `version` (the claim moved it
on); a message is sent at most once (workflows/cases/notify/delivery.py). Nothing here knows Flask: the command passes
in the WeChat sender and the settings.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError

from core import audit, clock
from core import deferred as deferred_records
from core.actor import Actor
from workflows.bpmn import test_runs
from workflows.cases.applications import case_state
from workflows.cases.bundles import cases as bundle_cases
from workflows.cases.tasks import incidents
from workflows.cases.clock import reminders
from workflows.cases.notify import delivery

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(minutes=1)
ERROR_PAUSE = 5.0            # seconds to wait after a round that could not reach the database


@dataclass
class Round:
    timers: int = 0
    bundles: int = 0
    reminders: dict | None = None
    notifications: dict | None = None
    purged: int = 0
    sealed: int = 0
    scheduled: dict | None = None      # name → what each scheduled job that ran this round answered

    @property
    def busy(self) -> bool:
        sent = sum(v for k, v in (self.notifications or {}).items() if k != "interrupted")
        # a scheduled job that answers a count (results made) did work when it is not 0
        made = any(type(v) is int and v for v in (self.scheduled or {}).values())
        return bool(self.timers or self.bundles or sent or made or any((self.reminders or {}).values()))


class Worker:
    def __init__(self, sender: delivery.Sender | None = None, *, policy: delivery.Policy | None = None,
                 batch: int = 100, idle_seconds: float = 2.0, actor: Actor | None = None,
                 scheduled: list | None = None):
        self.sender = sender
        self.policy = policy or delivery.Policy()
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.actor = actor or Actor.system()
        self._stop = threading.Event()
        self._next_purge: datetime | None = None
        # other rooms' periodic jobs: (name, fn(now), every) — e.g. 免申即享 policy runs, results to catch up on
        self.scheduled = list(scheduled or [])
        self._next_run: dict = {}

    # -- stopping: the current item is finished, then the loop ends ---------------------------------------------
    def stop(self, *_args) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- one round ----------------------------------------------------------------------------------------------
    def fire_timers(self, now: datetime | None = None) -> int:
        """Up to `batch` due instances, each taken with a lease and fired; returns how many were taken."""
        run = case_state.fire_due_timers(self.actor, now, self.batch, lease=self.policy.lease,
                                         stop=lambda: self.stopping, spread=True, on_incident=incidents.opened)
        return run.fired + run.failed + run.skipped

    def run_round(self, now: datetime | None = None) -> Round:
        result = Round()
        result.timers = self._guard("timers", lambda: self.fire_timers(now), 0)
        if not self.stopping:      # the 一件事 bundles whose parts ended (a part's end never runs another's submit)
            result.bundles = self._guard("bundles", lambda: bundle_cases.advance_due(now), 0)
        if not self.stopping:
            result.reminders = self._guard("reminders", lambda: reminders.scan(now or clock.now()), {})
        if not self.stopping:   # the one sealer of the audit chain: actions only insert their records (or carry
            # them, and their messages, in the document they changed: seal() moves those in first, core/deferred.py)
            result.sealed = self._guard("audit", audit.seal, 0)
        if not self.stopping:
            result.notifications = self._guard("notifications", lambda: delivery.deliver_due(
                self.sender, self.policy, now, limit=self.batch, stop=lambda: self.stopping), {})
        current = now or clock.now()
        if not self.stopping and (self._next_purge is None or current >= self._next_purge):
            result.purged = self._guard("purge", lambda: test_runs.purge_test_runs(now), 0)
            self._next_purge = current + PURGE_EVERY
        for name, job, every in self.scheduled:
            if self.stopping or current < self._next_run.get(name, current):
                continue
            result.scheduled = {**(result.scheduled or {}), name: self._guard(name, lambda: job(current), None)}
            self._next_run[name] = current + every
        return result

    def _guard(self, what, step, empty):
        try:
            return step()
        except PyMongoError:
            log.exception("worker: %s: the database is unreachable", what)
            self._stop.wait(ERROR_PAUSE)
        except Exception:   # noqa: BLE001 — one failing part of a round must not stop the others or the worker
            log.exception("worker: %s failed", what)
        return empty

    def run(self, max_rounds: int | None = None) -> int:
        """Round after round until `stop()`; sleeps `idle_seconds` after a round with nothing to do."""
        rounds = 0
        while not self.stopping and (max_rounds is None or rounds < max_rounds):
            started = time.monotonic()
            result = self.run_round()
            rounds += 1
            if result.busy:
                log.info("worker round: %d timers, reminders %s, notifications %s, purged %d (%.2f s)",
                         result.timers, result.reminders, result.notifications, result.purged,
                         time.monotonic() - started)
            elif not self.stopping:
                self._stop.wait(self.idle_seconds)
        return rounds


def backlog(now: datetime | None = None) -> dict:
    """What waits for the workers, for /metrics: due timers and how late the oldest is (timer lag), WeChat
    messages due, approved cases whose result documents are due, cases not yet in the statistics, and audit records
    and messages still carried by the applications they describe — each with how late its oldest is. Ten indexed
    reads."""
    from workflows.cases.applications.models import Application
    from workflows.bpmn.models import Instance
    from workflows.cases.notify.models import Notification

    now = now or clock.now()
    timers = {"next_timer_at": clock.due_by(now), "status": {"$in": ["running", "incident"]}}
    outbox = {"wechat_status": "pending", "next_attempt_at": clock.due_by(now)}
    applications = Application._get_collection()
    result = {}
    for name, collection, query, field in (
            ("timers", Instance._get_collection(), timers, "next_timer_at"),
            ("outbox", Notification._get_collection(), outbox, "next_attempt_at"),
            ("results", applications, {"documents_due_at": clock.due_by(now)}, "documents_due_at"),
            ("stats", applications, {"stats_due_at": clock.due_by(now)}, "stats_due_at"),
            ("deferred", applications, deferred_records.due_query(now), "deferred_due_at")):
        oldest = collection.find_one(query, {field: 1}, sort=[(field, 1)])
        result[f"{name}_due"] = collection.count_documents(query)
        result[f"{name}_lag_seconds"] = max(0.0, (now - clock.as_utc(oldest[field])).total_seconds()) if oldest else 0.0
    return result
