"""Pieces the resident and approver sides share: application numbers, look-ups, deadlines, masking, the
projection context of a case, and what a reader of an application may see."""
from __future__ import annotations

import json
import threading
from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from core import cache, clock, db, pii
from core.actor import Actor
from core.errors import Invalid, NotFound
from forms import service as forms
from forms import validation as form_validation
from workflows.cases.applications.models import Application, DailyCounter, Step
from workflows.bpmn import service as processes
from workflows.cases.catalog import service as catalog
from workflows.cases.catalog.models import ServiceVersion
from workflows.bpmn.models import Instance, ProcessVersion
from workflows.cases.tasks.projection import CaseInfo

MAX_DRAFT_BYTES = 256 * 1024     # an autosaved draft (checked on submit; only its size is checked before)


NUMBER_BLOCK = 10     # numbers a process takes from the day's counter in one write


class _NumberBlock:
    """The numbers this process took from today's counter and has not handed out yet. Numbers are unique, not
    consecutive across processes; a process that stops (or a day that ends) leaves the rest of its block as a gap
    — the numbers are gap-tolerant, and one counter write per ten submits instead of one per submit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._day, self._next, self._last = "", 1, 0

    def take(self, day: str) -> int:
        with self._lock:
            if day != self._day or self._next > self._last:
                self._day, self._last = day, _reserve(day, NUMBER_BLOCK)
                self._next = self._last - NUMBER_BLOCK + 1
            number, self._next = self._next, self._next + 1
            return number

    def clear(self) -> None:      # the database was wiped (tests): what this process reserved is gone with it
        with self._lock:
            self._day, self._next, self._last = "", 1, 0


_numbers = cache.register(_NumberBlock())


def next_number(at: datetime | None = None) -> str:
    """ZB + the China day + a 5-digit count: one a resident can read aloud (ZB2026112700001; a case submitted at
    07:30 Beijing time carries that day, not the UTC day before). Taken from a block this process reserved with one
    atomic $inc (see `_NumberBlock`); a submit that fails afterwards leaves a gap, never a repeat."""
    day = clock.china(at).strftime("%Y%m%d")
    return f"ZB{day}{_numbers.take(day):05d}"


def _reserve(day: str, count: int) -> int:
    """Add `count` to the day's counter; returns the last number of the block reserved."""
    counters = DailyCounter._get_collection()
    for _ in range(3):
        doc = counters.find_one_and_update({"_id": day}, {"$inc": {"last": count}},
                                           return_document=ReturnDocument.AFTER)
        if doc is not None:
            return doc["last"]
        # The day's first number creates its counter. Not by an upsert: racing upserts on SecantusDB both
        # increment yet one of them answers "no document", which left gaps; a plain insert has one winner.
        try:
            counters.insert_one({"_id": day, "last": 0})
        except DuplicateKeyError:
            pass
    raise RuntimeError(f"the application counter for {day} could not be incremented")


def current_service(code: str) -> ServiceVersion:
    """The version of a service residents apply for now (422 naming /service_code when unknown or archived)."""
    try:
        return catalog.get_current(code)
    except NotFound:
        raise Invalid("application.service_unavailable", errors=[{
            "path": "/service_code", "code": "not_found", "message": "application.service_unavailable"}]) from None


def mask_name(name: str | None) -> str:
    """张三 → 张*; what approvers' lists show of an applicant."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_value(data_class: str, value):
    """One value of a data class (forms' MASKS) as staff see it: 110***********1234, 138****5678, 张*, a bank
    card's last four, an address's first characters (an address field keeps its region codes, not its detail)."""
    if isinstance(value, dict) and data_class == "address":
        return {**value, "detail": mask_value("address", value["detail"])} if value.get("detail") else value
    if not isinstance(value, str) or not value:
        return value
    if data_class == "name":
        return mask_name(value)
    if data_class == "bank-card":
        digits = value.replace(" ", "")
        return "*" * max(len(digits) - 4, 0) + digits[-4:]
    if data_class == "address":
        keep = min(6, len(value) // 3)
        return value[:keep] + "*" * min(len(value) - keep, 12)
    return pii.mask(value)


def masked_data(form_version, data: dict, *, clear: frozenset = frozenset()) -> dict:
    """The data with every field of a data class (`x-ui.mask`, the id-card and mobile widgets) masked, for
    staff; owners see their own data in clear. `clear`: top-level fields left whole (a helper's fields to fill)."""
    def walk(fields, value, top=False):
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for f in fields:
            if f.name not in out or top and f.name in clear:
                continue
            if f.mask:
                out[f.name] = mask_value(f.mask, out[f.name])
            elif f.kind == "group":
                out[f.name] = walk(f.children, out[f.name])
            elif f.kind == "repeat" and isinstance(out[f.name], list):
                out[f.name] = [walk(f.children, row) for row in out[f.name]]
        return out
    return walk(form_validation.compiled(form_version).form.fields, data, top=True)


def dump_data(data: dict) -> str:
    text = json.dumps(form_validation.as_json(data), ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) > MAX_DRAFT_BYTES:
        raise Invalid("application.too_large", errors=[{"path": "/data", "code": "too_large",
                                                         "message": "application.too_large"}])
    return text


def form_of(app: Application):
    return forms.get_published(app.form_key, app.form_version)


def case_info(app: Application, version_id=None, process_version: ProcessVersion | None = None) -> CaseInfo:
    """What the inbox rows of this application repeat. `version_id` is the instance's process version."""
    if process_version is not None:
        version_id = process_version.id
    if version_id is None and app.instance_id:
        instance = Instance.objects(id=app.instance_id).only("process_version_id").first()
        version_id = instance.process_version_id if instance else None
    pinned = processes.pinned_forms(version_id, process_version) if version_id else {}
    return CaseInfo(application_id=app.id, instance_id=app.instance_id, number=app.number or "",
                    applicant_name=app.applicant_name, service_code=app.service_code,
                    service_name=app.service_name, department=app.department, due_at=app.due_at,
                    pinned_forms=pinned, recused=recused(app))


def recused(app: Application) -> list[str]:
    """回避: who may not act on this case — its applicant, and the helper who submitted it for them."""
    return [u for u in dict.fromkeys((app.applicant_id, app.helper_id)) if u]


def steps_from(rows: list[dict]) -> list[Step]:
    """The resident's copy of the inbox rows that wait now."""
    return [Step(task_id=r["task_id"], element_id=r["element_id"], name=r["name"],
                 department=r["candidate_departments"][0] if r["candidate_departments"] else "", due_at=r["due_at"])
            for r in rows]


def owned(actor: Actor, app_id: str) -> Application:
    """The caller's own application, or NotFound (for anyone else's too)."""
    return db.found(Application, app_id, applicant_id=actor.user_id)
