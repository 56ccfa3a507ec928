"""One rating per application (好差评), with its single follow-up comment and the department's reply."""
from __future__ import annotations

import mongoengine as me

from core import clock

BAD = 2          # a score of 2 or less is a bad rating (差评): the department follows it up


class Note(me.EmbeddedDocument):
    """A later word on the rating: the resident's follow-up (追评) or the department's reply (整改反馈)."""
    at = me.DateTimeField(required=True)
    comment = me.StringField(required=True, max_length=2000)   # a follow-up ≤ 500 (its schema); a reply ≤ 2000
    actor_id = me.StringField(default="")
    actor_name = me.StringField(default="")


class Rating(me.Document):
    application_id = me.ObjectIdField(required=True)
    application_number = me.StringField(default="")
    applicant_id = me.StringField(required=True)
    department = me.StringField(required=True)      # the service's department
    service_code = me.StringField(required=True)
    service_name = me.StringField(default="")
    score = me.IntField(required=True, min_value=1, max_value=5)
    tags = me.ListField(me.StringField(max_length=20))
    comment = me.StringField(default="", max_length=500)
    follow_up = me.EmbeddedDocumentField(Note, null=True)       # the resident's 追评: once, append-only
    follow_up_task = me.ObjectIdField(null=True)                 # the department's task, for a bad rating
    # a bad rating whose follow-up task is not written yet: from then the worker writes it (a request that died
    # between the rating and its task), cleared once it is there
    follow_up_due_at = me.DateTimeField()
    reply = me.EmbeddedDocumentField(Note, null=True)           # what the department did about a bad rating
    created_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "ratings", "indexes": [
        {"fields": ["application_id"], "unique": True},           # once per application
        ("department", "-created_at"), ("department", "score", "-created_at"),
        {"fields": ["follow_up_due_at"], "sparse": True}]}
