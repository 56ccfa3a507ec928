"""In-app messages: the outbox documents themselves, read by the person they are for."""
from __future__ import annotations

from core import clock
from core.actor import Actor
from core.errors import NotFound
from workflows.cases.notify.models import Notification


def messages(actor: Actor, *, unread: bool = False):
    """One's own messages, newest first (the ("user_id", "-created_at") index)."""
    query = Notification.objects(user_id=actor.user_id)
    if unread:
        query = query.filter(read_at=None)
    return query.exclude("lease_until", "attempts", "next_attempt_at", "last_error", "dedupe_key").order_by(
        "-created_at", "-id")


def unread_count(actor: Actor) -> int:
    return Notification.objects(user_id=actor.user_id, read_at=None).count()


def mark_read(actor: Actor, message_id: str) -> Notification:
    """Mark one's own message read (once: a second call keeps the first time). Anyone else's is 404."""
    oid = clock.parse_id(message_id)
    if oid is None:
        raise NotFound()
    Notification.objects(id=oid, user_id=actor.user_id, read_at=None).update_one(set__read_at=clock.now())
    found = Notification.objects(id=oid, user_id=actor.user_id).first()
    if found is None:
        raise NotFound()
    return found
