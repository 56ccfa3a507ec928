"""The inbox projection: `human_tasks` rows written from the user tasks an instance waits on.

Written after the instance (the source of truth) with one bulk write per action: new waiting tasks upserted
(`$setOnInsert`, so a repeat changes nothing), tasks that stopped waiting cancelled. A crash between the instance
write and this one leaves the projection behind; `rebuild()` (`zhangban rebuild-projections`) puts it right.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from pymongo import UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError

from core import clock
from workflows.cases.tasks.models import HumanTask

DUPLICATE_KEY = 11000

# Lanes name department codes (or role names). Department codes live in the identity room: the delivery room
# registers how to turn codes into department ids (`register_lane_resolver`), as storage's reader checks do.
LaneResolver = Callable[[set], dict]
_resolver: list[LaneResolver] = []
_lane_cache: dict[str, tuple[float, str | None]] = {}
_lane_lock = threading.Lock()
LANE_CACHE_SECONDS = 60


def register_lane_resolver(resolve: LaneResolver) -> None:
    """`resolve(codes) -> {code: department id}` for the codes that name departments."""
    _resolver[:] = [resolve]


def departments_of(lanes: set) -> dict:
    """Lane name → department id (None for role lanes and unknown names), cached for a minute."""
    now, found, missing = time.monotonic(), {}, set()
    with _lane_lock:
        for lane in lanes:
            hit = _lane_cache.get(lane)
            if hit and hit[0] > now:
                found[lane] = hit[1]
            else:
                missing.add(lane)
    if missing and _resolver:
        resolved = _resolver[0](missing)
        with _lane_lock:
            for lane in missing:
                found[lane] = resolved.get(lane)
                _lane_cache[lane] = (now + LANE_CACHE_SECONDS, found[lane])
    return found


def clear_lane_cache() -> None:
    with _lane_lock:
        _lane_cache.clear()


@dataclass
class CaseInfo:
    """What every row of one application repeats, so the inbox needs no join."""
    application_id: object
    instance_id: object
    number: str
    applicant_name: str
    service_code: str
    service_name: str
    department: str                   # the service's department: role lanes and lane-less tasks go there
    due_at: object = None             # the service's commitment deadline, for tasks without their own
    pinned_forms: dict = field(default_factory=dict)   # element id → form version pinned at publish
    recused: list = field(default_factory=list)        # 回避: the applicant and their helper act on none of its rows


def rows(case: CaseInfo, ready: list[dict]) -> list[dict]:
    """The projection rows for the waiting user tasks `ready` (from Engine.ready_tasks)."""
    departments = departments_of({t["lane"] for t in ready if t.get("lane")})
    out = []
    for task in ready:
        department = departments.get(task.get("lane") or "") or case.department
        signer = task.get("signer")        # a picked countersign's instance is that signer's task alone
        out.append({
            "task_id": task["id"], "instance_id": case.instance_id, "application_id": case.application_id,
            "application_number": case.number, "applicant_name": case.applicant_name,
            "service_code": case.service_code, "service_name": case.service_name,
            "element_id": task["element_id"], "name": task["name"], "lane": task.get("lane") or "",
            "candidate_departments": [department], "candidate_users": [signer] if signer else [],
            "assignee": signer, "audience": [f"user:{signer}"] if signer else [f"dept:{department}"],
            "form_key": task.get("form_key"),
            "form_version": task.get("form_version") or case.pinned_forms.get(task["element_id"]),
            "status": "open", "priority": 0, "due_at": task.get("due_at") or case.due_at,
            "created_at": clock.now(), "completed_at": None, "completed_by": None, "outcome": None,
            "hand_back_to": None, "hand_kind": None, "recused": list(case.recused)})
    return out


# What a task that waits again (sent back to it) starts from; the rest of a row is written only on insert.
FRESH = ("status", "assignee", "audience", "candidate_users", "due_at", "created_at", "completed_at", "completed_by",
         "outcome", "hand_back_to", "hand_kind")


def sync(case: CaseInfo, ready: list[dict], previous_task_ids=(), *, keep=(), made: list[dict] | None = None,
         revision: int | None = None, ended: bool = False) -> list[dict]:
    """Make the instance's open rows match `ready` with one bulk write (none when nothing changes); returns the new
    rows (`made`, if the caller made them already). `previous_task_ids`: the rows that waited before, kept as they
    are (claim and version) while they still wait, cancelled once they do not (except `keep`, the one just
    completed; once the process has `ended`, all of them). With `revision` (the instance's, as the step left it) a
    row that a newer step wrote is left alone: an older step's write arrives late and changes nothing."""
    new_rows = [] if ended else (made if made is not None else rows(case, ready))
    waiting = {r["task_id"] for r in new_rows}
    fence = {"instance_revision": {"$not": {"$gt": revision}}} if revision is not None else {}
    stamp = {"instance_revision": revision} if revision is not None else {}
    ops = []
    for row in new_rows:
        key = {"instance_id": case.instance_id, "task_id": row["task_id"], **fence}
        if row["task_id"] in previous_task_ids:      # still waiting: leave its claim and version alone
            ops.append(UpdateOne(key, {"$setOnInsert": {**row, "version": 1}, **({"$set": stamp} if stamp else {})},
                                 upsert=True))
        else:   # new, or waiting again after a return (退回): open, unclaimed, with a version no one holds
            ops.append(UpdateOne(key, {"$set": {**{k: row[k] for k in FRESH}, **stamp},
                                       "$setOnInsert": {k: v for k, v in row.items() if k not in FRESH},
                                       "$inc": {"version": 1}}, upsert=True))
    # the rows that waited before and wait no longer (by their ids: an indexed look-up whose cost does not grow
    # with the inbox); rows a crash left behind are rebuild's
    gone = [t for t in previous_task_ids if t not in waiting and t not in keep]
    if gone:
        ops.append(UpdateMany({"instance_id": case.instance_id, "task_id": {"$in": gone},
                               "status": {"$in": ["open", "returned"]}, **fence},
                              {"$set": {"status": "cancelled", "completed_at": clock.now(), **stamp},
                               "$inc": {"version": 1}}))
    if not ops:
        return new_rows
    try:
        HumanTask._get_collection().bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        # a fenced upsert whose row a newer step wrote tries an insert and meets the unique index: that row is
        # the newer step's, as it should be
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
    return new_rows


def cancel_all(instance_id) -> int:
    return HumanTask.objects(instance_id=instance_id, status__in=("open", "returned")).update(
        set__status="cancelled", set__completed_at=clock.now(), inc__version=1)
