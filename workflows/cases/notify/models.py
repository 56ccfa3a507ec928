"""The notification outbox: one document per message to one person, delivered at most once per channel."""
from __future__ import annotations

import mongoengine as me

from core import clock

KINDS = ("submitted", "task_assigned", "returned", "approved", "rejected", "overdue", "reminder", "cc", "urged",
         "transferred", "delegated", "signer_added", "escalated", "task_cancelled",
         "grant_offered",     # 免申即享: a benefit granted without an application, to confirm or decline
         "authorisation",     # 帮办代办: an authorisation given or recorded for the resident (确认 / 拒绝 when pending)
         "proxy_act")         # 帮办代办: a helper acted for the resident
# pending: waits for the worker; sending: handed to WeChat (a worker that dies here leaves it, and it is marked
# failed, never sent again); sent; refused: the person has not subscribed (WeChat 43101); failed: gave up;
# skipped: in-app only (no template for the kind, or the person has no WeChat openid)
STATUSES = ("pending", "sending", "sent", "failed", "refused", "skipped")


class Notification(me.Document):
    kind = me.StringField(required=True, choices=KINDS)
    user_id = me.StringField(required=True)              # who receives it
    application_id = me.StringField(default="")
    application_number = me.StringField(default="")
    task_id = me.StringField(default="")
    title = me.StringField(default="", max_length=200)
    body = me.StringField(default="", max_length=2000)
    data = me.DictField()                                # template values for WeChat, links for the app
    # the in-app message is the notification itself (read/unread); WeChat is delivered by the worker
    read_at = me.DateTimeField(null=True)
    wechat_status = me.StringField(choices=STATUSES, default="pending")
    attempts = me.IntField(default=0)
    next_attempt_at = me.DateTimeField(default=clock.now)
    lease_until = me.DateTimeField(null=True)
    last_error = me.StringField(default="", max_length=500)
    dedupe_key = me.StringField(null=True)               # the same event never makes two messages
    created_at = me.DateTimeField(default=clock.now)
    sent_at = me.DateTimeField(null=True)

    meta = {"collection": "notifications", "indexes": [
        ("user_id", "-created_at"), ("user_id", "read_at"),
        ("wechat_status", "next_attempt_at"),
        {"fields": ["dedupe_key"], "unique": True, "partialFilterExpression": {"dedupe_key": {"$type": "string"}}}]}
