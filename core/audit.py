"""The append-only audit log: every state change, chained by sha256 over canonical JSON.

Each record stores the hash of the previous one, so editing or deleting any record breaks the chain from
there on, and `verify()` names the first broken link. Records carry a gap-free sequence number with a unique
index: two writers racing for the same place cannot both win, the loser retries on the new tail.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import mongoengine as me
from mongoengine.errors import NotUniqueError

from core import clock
from core.actor import Actor

GENESIS = "0" * 64


class AuditRecord(me.Document):
    seq = me.IntField(required=True, unique=True)
    at = me.DateTimeField(required=True)
    actor_id = me.StringField(required=True)
    actor_name = me.StringField(default="")
    action = me.StringField(required=True)
    object_type = me.StringField(default="")
    object_id = me.StringField(default="")
    details = me.DictField()
    prev_hash = me.StringField(required=True)
    hash = me.StringField(required=True)

    meta = {"collection": "audit", "indexes": ["actor_id", ("object_type", "object_id"), "-at"],
            "ordering": ["seq"]}

    def canonical(self) -> bytes:
        body = {"seq": self.seq, "at": clock.as_utc(self.at).isoformat(timespec="milliseconds"),
                "actor_id": self.actor_id, "actor_name": self.actor_name, "action": self.action,
                "object_type": self.object_type, "object_id": self.object_id, "details": self.details,
                "prev_hash": self.prev_hash}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()

    def computed_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def record(actor: Actor | None, action: str, object_type: str = "", object_id="", **details) -> AuditRecord:
    """Append one record for a state change that has just happened."""
    actor = actor or Actor.system()
    for _ in range(50):
        last = AuditRecord.objects.order_by("-seq").only("seq", "hash").first()
        entry = AuditRecord(seq=(last.seq + 1) if last else 1, at=clock.now(), actor_id=actor.user_id,
                            actor_name=actor.username, action=action, object_type=object_type,
                            object_id=str(object_id), details=_plain(details),
                            prev_hash=last.hash if last else GENESIS)
        entry.hash = entry.computed_hash()
        try:
            return entry.save(force_insert=True)
        except NotUniqueError:
            continue  # another writer took this place in the chain; append after it
    raise RuntimeError("audit log: could not append after 50 attempts")


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


def verify(batch: int = 1000) -> VerifyResult:
    """Walk the chain in order; report the first record whose link or content does not hold."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    for entry in AuditRecord.objects.order_by("seq").batch_size(batch):
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, entry.seq, str(entry.id),
                                f"record {expected_seq} is missing (next found: {entry.seq})")
        if entry.prev_hash != expected_prev:
            return VerifyResult(False, checked, entry.seq, str(entry.id),
                                "its prev_hash does not match the record before it")
        if entry.computed_hash() != entry.hash:
            return VerifyResult(False, checked, entry.seq, str(entry.id), "its content does not match its hash")
        expected_prev, expected_seq, checked = entry.hash, entry.seq + 1, checked + 1
    return VerifyResult(True, checked)


def query(*, actor_id=None, object_type=None, object_id=None, action=None, since=None, until=None):
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
    return AuditRecord.objects(**filters).order_by("-seq")
