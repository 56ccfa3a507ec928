"""Records a change owes (its audit record, its notifications), carried in the changed document until the worker
moves them where they belong: a transactional outbox without transactions.

Written as inserts of their own, an audit record and a notification cost two more round trips per action, and a
crash between the change and them loses them. Carried instead in the document the action changes (its
`deferred` list, each entry {"id", "to": a collection, "doc": the document to insert, its _id fixed}), they go in
with the change in one atomic write. `deliver()` — each worker round, and `audit.seal()` before it chains —
inserts them into their collections and pulls them out. The fixed _id (and a notification's dedupe key) make a
repeated insert a no-op, so a crash halfway through a delivery, or two deliverers at once, write nothing twice.

A model that carries deferred records has `deferred = ListField(DictField())` and `deferred_due_at` (with a
sparse index on it) and is `register`ed here.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import mongoengine as me
from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from core import clock

_models: list = []
DUPLICATE_KEY = 11000


def register(model) -> None:
    if model not in _models:
        _models.append(model)


def entry(document: me.Document) -> dict:
    """`document` (not saved) as a deferred insert; its id is fixed now."""
    if document.id is None:
        document.id = ObjectId()
    return {"id": document.id, "to": document._get_collection_name(), "doc": document.to_mongo().to_dict()}


def carry(documents: list[me.Document], now: datetime) -> dict:
    """The mongoengine update arguments that add `documents` (not saved) to a document's deferred records (an
    empty dict for none). `$min` keeps the oldest waiting time, for the worker's order and the lag metric."""
    if not documents:
        return {}
    return {"push_all__deferred": [entry(d) for d in documents], "min__deferred_due_at": now}


def carry_raw(documents: list[me.Document], now: datetime) -> dict:
    """`carry` as a driver update: {"$push": …, "$min": …} to merge into an update document ({} for none)."""
    if not documents:
        return {}
    return {"$push": {"deferred": {"$each": [entry(d) for d in documents]}}, "$min": {"deferred_due_at": now}}


def attach(document: me.Document, documents: list[me.Document], now: datetime) -> None:
    """`carry` for a document about to be inserted: its records go in with it."""
    document.deferred = [entry(d) for d in documents]
    document.deferred_due_at = now if documents else None


def due_query(now: datetime | None = None) -> dict:
    return {"deferred_due_at": clock.due_by(now or clock.now())}


def deliver(limit: int = 500) -> int:
    """Move up to `limit` documents' deferred records (oldest first, per registered model) into their collections;
    returns how many records were moved. Per model: one read, one insert per target collection, one bulk update."""
    return sum(move(model, read_due(model, limit)) for model in _models)


def read_due(model, limit: int) -> list[dict]:
    """The documents of `model` with records waiting (raw: their _id, records and due time), oldest first."""
    return list(model._get_collection().find(due_query(), {"deferred": 1, "deferred_due_at": 1},
                                             sort=[("deferred_due_at", 1)], limit=limit))


def move(model, waiting: list[dict]) -> int:
    """Insert the records `waiting` (as read) carry, then pull exactly those out of their documents."""
    if not waiting:
        return 0
    collection = model._get_collection()
    by_target = defaultdict(list)
    for document in waiting:
        for item in document.get("deferred") or []:
            by_target[item["to"]].append(item["doc"])
    for target, docs in by_target.items():
        _insert_new(collection.database[target], docs)
    updates = []
    for document in waiting:
        ids = [item["id"] for item in document.get("deferred") or []]
        # only what was read is pulled: a record added meanwhile stays, and keeps the document due
        updates.append(UpdateOne({"_id": document["_id"]}, {"$pull": {"deferred": {"id": {"$in": ids}}}}))
        updates.append(UpdateOne({"_id": document["_id"], "deferred": {"$size": 0}},
                                 {"$unset": {"deferred_due_at": ""}}))
    collection.bulk_write(updates, ordered=True)
    return sum(len(docs) for docs in by_target.values())


def _insert_new(collection, docs: list[dict]) -> None:
    """Insert what is not there yet; a duplicate key means an earlier delivery (or a dedupe key) has it already."""
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
        if others:
            raise
