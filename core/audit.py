"""The append-only audit log: every state change, chained by sha256 over canonical JSON.

Appending and chaining are two steps. `record()` inserts the record *unchained* (no `seq`, no hash: one insert
that no other writer contends for), so the record of a change that has happened cannot be refused for losing a
race. `seal()` then takes unchained records oldest first and gives each the next gap-free `seq` (unique index: two
sealers racing for one place cannot both win; the loser retries on the new tail) and the hash over its content
and the previous record's hash. `record()` only inserts — one command on the hot path of every action; the worker
(every round), `zhangban workflows tick`, `zhangban audit verify` and the admins' audit list seal what waits.
The actions that write an application anyway (submit, decide, return, supplement, withdraw) spend not even that:
their record rides in the application's own update (`build()`, core/deferred.py), and `seal()` moves such records
in before it chains.

When MongoDB is down between a state change and its record, the record is not lost and the caller does not get
an error for a change that happened: the record goes to a spool directory on local disk (one fsync'd file per
record, with its ObjectId fixed beforehand) and `seal()` inserts it later — the ObjectId makes that insert
idempotent, so two processes draining one spool cannot insert a record twice.

Editing or deleting a sealed record breaks the chain from there on, and `verify()` names the first broken link.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import mongoengine as me
from bson import ObjectId
from mongoengine.errors import NotUniqueError
from pymongo.errors import DuplicateKeyError, PyMongoError

from core import clock, deferred
from core.actor import Actor

GENESIS = "0" * 64
log = logging.getLogger("zhangban.audit")
_spool: Path | None = None


class AuditRecord(me.Document):
    seq = me.IntField()               # unset until sealed into the chain
    pending = me.BooleanField()       # True until sealed (sparse index: finds the few unsealed records)
    at = me.DateTimeField(required=True)
    actor_id = me.StringField(required=True)
    actor_name = me.StringField(default="")
    action = me.StringField(required=True)
    object_type = me.StringField(default="")
    object_id = me.StringField(default="")
    details = me.DictField()
    prev_hash = me.StringField()
    hash = me.StringField()

    meta = {"collection": "audit", "indexes": [
        {"fields": ["seq"], "unique": True, "sparse": True, "name": "seq_chain"},
        {"fields": ["pending"], "sparse": True},
        ("actor_id", "-id"), ("object_type", "object_id", "-id"), ("action", "-id"), "-at"]}

    def canonical(self) -> bytes:
        body = {"seq": self.seq, "at": clock.as_utc(self.at).isoformat(timespec="milliseconds"),
                "actor_id": self.actor_id, "actor_name": self.actor_name, "action": self.action,
                "object_type": self.object_type, "object_id": self.object_id, "details": self.details,
                "prev_hash": self.prev_hash}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()

    def computed_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def configure(spool_dir: Path | None) -> None:
    """Where records wait when MongoDB cannot take them (None: nowhere — an outage then raises)."""
    global _spool
    _spool = Path(spool_dir) if spool_dir else None
    if _spool:
        _spool.mkdir(parents=True, exist_ok=True)


def migrate() -> None:
    """Drop the index of the first chain format (unique on every `seq`, so a second unsealed record collided)."""
    collection = AuditRecord._get_db()[AuditRecord._meta["collection"]]   # raw: before mongoengine's indexes
    legacy = collection.index_information().get("seq_1")
    if legacy and legacy.get("unique") and not legacy.get("sparse"):
        collection.drop_index("seq_1")


def record(actor: Actor | None, action: str, object_type: str = "", object_id="", **details) -> AuditRecord:
    """Record a state change that has just happened; never lost, never a reason to fail the caller's request
    while a spool is configured."""
    entry = build(actor, action, object_type, object_id, **details)
    try:
        entry.save(force_insert=True)
    except PyMongoError as exc:
        if _spool is None:
            raise
        _write_spool(entry)
        log.warning("audit record %s spooled: the database refused it (%s)", entry.id, type(exc).__name__)
    return entry


def build(actor: Actor | None, action: str, object_type: str = "", object_id="", **details) -> AuditRecord:
    """The record `record()` inserts, not inserted: for a change that carries it in its own document
    (core/deferred.py: `seal()` moves such records in first)."""
    actor = actor or Actor.system()
    return AuditRecord(id=ObjectId(), pending=True, at=clock.now(), actor_id=actor.user_id,
                       actor_name=actor.username, action=action, object_type=object_type,
                       object_id=str(object_id), details=_plain(details))


def _write_spool(entry: AuditRecord) -> None:
    path = _spool / f"{entry.id}.json"
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(entry.to_mongo().to_dict(), handle, default=_spool_default, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(_spool, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _spool_default(value):
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    return {"$date": clock.as_utc(value).isoformat()}


def _read_spool(path: Path) -> dict:
    from datetime import datetime

    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["_id"] = ObjectId(doc["_id"]["$oid"])
    doc["at"] = datetime.fromisoformat(doc["at"]["$date"])
    return doc


def drain_spool() -> int:
    """Insert spooled records (each under its own ObjectId, so a second drain inserts nothing twice)."""
    if _spool is None or not _spool.is_dir():
        return 0
    moved, collection = 0, AuditRecord._get_collection()
    for path in sorted(_spool.glob("*.json")):
        try:
            collection.insert_one(_read_spool(path))
            moved += 1
        except DuplicateKeyError:
            pass   # inserted already (by another process, or before a crash that left the file)
        except FileNotFoundError:
            continue   # another process drained it
        path.unlink(missing_ok=True)
    return moved


def pending_count() -> int:
    spooled = len(list(_spool.glob("*.json"))) if _spool and _spool.is_dir() else 0
    return AuditRecord.objects(pending=True).count() + spooled


def seal(limit: int = 10_000, batch: int = 500) -> int:
    """Chain unsealed records, oldest first; returns how many this call sealed. Reads up to `batch` waiting records
    and the chain's tail once, then links each with one conditional update (three commands a record before: the
    sealer fell behind at ~2 records/s on the test server while 8 writers appended ~200/s)."""
    drain_spool()
    deferred.deliver()     # records carried by the documents they describe come in too
    sealed = collisions = 0
    while sealed < limit and collisions < 50:
        waiting = list(AuditRecord.objects(pending=True).order_by("id").limit(min(batch, limit - sealed)))
        if not waiting:
            break
        tail = AuditRecord.objects(seq__exists=True).order_by("-seq").only("seq", "hash").first()
        seq, prev = (tail.seq, tail.hash) if tail else (0, GENESIS)
        for nxt in waiting:
            nxt.seq, nxt.prev_hash = seq + 1, prev
            digest = nxt.computed_hash()
            try:
                done = AuditRecord.objects(id=nxt.id, pending=True).update_one(
                    set__seq=nxt.seq, set__prev_hash=prev, set__hash=digest, unset__pending=True)
            except NotUniqueError:
                done = 0   # another sealer took this place in the chain
            if not done:
                collisions += 1
                break      # read the tail (and what still waits) again
            seq, prev, sealed = nxt.seq, digest, sealed + 1
    return sealed


_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _plain(value):
    """Details as JSON-safe values MongoDB stores unchanged, so the hash stays the same after a round trip.

    Beyond JSON, MongoDB refuses keys that start with "$" or hold NUL, and integers outside 64 bits: such details
    (from user data) would otherwise fail the record after the state change it describes has happened.
    """
    return _storable(json.loads(json.dumps(value, default=str, ensure_ascii=False)))


def _storable(value):
    if isinstance(value, dict):
        return {("\uff04" + key[1:] if key.startswith("$") else key).replace("\x00", "\ufffd"): _storable(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        return str(value)
    return value


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: str | None = None
    reason: str = ""
    pending: int = 0


def verify(batch: int = 1000) -> VerifyResult:
    """Walk the chain in order; report the first record whose link or content does not hold."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    for entry in AuditRecord.objects(seq__exists=True).order_by("seq").batch_size(batch):
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, entry.seq, str(entry.id),
                                f"record {expected_seq} is missing (next found: {entry.seq})")
        if entry.prev_hash != expected_prev:
            return VerifyResult(False, checked, entry.seq, str(entry.id),
                                "its prev_hash does not match the record before it")
        if entry.computed_hash() != entry.hash:
            return VerifyResult(False, checked, entry.seq, str(entry.id), "its content does not match its hash")
        expected_prev, expected_seq, checked = entry.hash, entry.seq + 1, checked + 1
    return VerifyResult(True, checked, pending=pending_count())


def query(*, actor_id=None, object_type=None, object_id=None, action=None, since=None, until=None):
    """Records matching the filters, newest first (by id: unsealed records too)."""
    filters = {}
    if actor_id:
        filters["actor_id"] = actor_id
    if object_type:
        filters["object_type"] = object_type
    if object_id:
        filters["object_id"] = object_id
    if action:
        filters["action"] = action
    if since:
        filters["at__gte"] = since
    if until:
        filters["at__lt"] = until
    return AuditRecord.objects(**filters).order_by("-id")
