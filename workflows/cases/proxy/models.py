"""Authorisations (委托授权) a resident gives a helper."""
from __future__ import annotations

import mongoengine as me

from core import clock

ACTIONS = ("submit", "supplement")
KINDS = ("resident", "on_site")      # granted by the resident in the app | recorded by the helper with a signature
# an on-site one waits (pending) for the resident's 确认 on their phone or a supervising lead's approval on site;
# refused: the resident said 拒绝. Only an active one lets the helper do anything.
STATUSES = ("pending", "active", "refused")


class Authorisation(me.Document):
    resident_id = me.StringField(required=True)
    resident_name = me.StringField(default="")        # masked, for the helper's list
    helper_id = me.StringField(required=True)
    helper_name = me.StringField(default="")
    services = me.ListField(me.StringField(max_length=64))   # service codes; empty = every service of `departments`
    actions = me.ListField(me.StringField(choices=ACTIONS))
    kind = me.StringField(choices=KINDS, required=True)
    status = me.StringField(choices=STATUSES, required=True)    # (older rows without one: migration 3)
    departments = me.ListField(me.StringField())       # the helper's departments when recorded (their lead approves)
    signature = me.StringField(null=True)              # on_site: the resident's signature (an attachment id)
    expires_at = me.DateTimeField(required=True)
    revoked_at = me.DateTimeField(null=True)
    confirmed_at = me.DateTimeField(null=True)         # on_site: when the resident or a lead made it active
    confirmed_by = me.StringField(null=True)           # who: the resident's or the lead's user id
    refused_at = me.DateTimeField(null=True)
    created_by = me.StringField(default="")
    created_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "authorisations", "indexes": [("resident_id", "-created_at"),
                                                        ("helper_id", "resident_id", "expires_at"),
                                                        ("status", "departments", "-created_at")]}   # leads' list

    def covers(self, service_code: str, action: str, now, state: str = "active") -> bool:
        return (self.status == state and self.revoked_at is None and self.expires_at > now
                and action in self.actions and (not self.services or service_code in self.services))



