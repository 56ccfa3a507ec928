"""Writing to the outbox. Delivery (the worker) and reading (in-app messages) live beside it."""
from __future__ import annotations

from pymongo import InsertOne
from pymongo.errors import BulkWriteError

from workflows.cases.notify.models import Notification


def enqueue(kind: str, user_ids, *, application=None, task_id: str = "", title: str = "", body: str = "",
            data: dict | None = None, dedupe: str | None = None) -> int:
    """One message per person, written with one bulk insert; `dedupe` (e.g. "urge:<app>:<day>") makes a repeat of
    the same event a no-op. Returns how many were written."""
    docs = [InsertOne(message.to_mongo().to_dict()) for message in messages(
        kind, user_ids, application=application, task_id=task_id, title=title, body=body, data=data, dedupe=dedupe)]
    if not docs:
        return 0
    try:
        return Notification._get_collection().bulk_write(docs, ordered=False).inserted_count
    except BulkWriteError as e:   # duplicates of an event already queued: the others went in
        return e.details.get("nInserted", 0)


def messages(kind: str, user_ids, *, application=None, task_id: str = "", title: str = "", body: str = "",
             data: dict | None = None, dedupe: str | None = None) -> list[Notification]:
    """The messages `enqueue` writes, not written: for a change that carries them in its own document
    (core/deferred.py)."""
    return [Notification(kind=kind, user_id=user_id, task_id=task_id, title=title, body=body, data=data or {},
                         application_id=str(application.id) if application else "",
                         application_number=(application.number or "") if application else "",
                         dedupe_key=f"{dedupe}:{user_id}" if dedupe else None)
            for user_id in dict.fromkeys(u for u in user_ids if u)]
