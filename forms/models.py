"""Form documents: the designer's draft (mutable, versioned), published versions (immutable), prefill memory.

Schemas are stored as JSON text: JSON Schema keys such as "$schema" may not be MongoDB field names, and the
text keeps the designer's key order.
"""
from __future__ import annotations

import json

import mongoengine as me

from core import clock

STATUSES = ("draft", "archived")


class FormDraft(me.Document):
    key = me.StringField(required=True, unique=True, max_length=64)
    title = me.StringField(required=True, max_length=200)
    title_en = me.StringField(default="", max_length=200)
    department = me.StringField(required=True)          # the owning department's id
    schema_json = me.StringField(required=True)
    status = me.StringField(choices=STATUSES, default="draft")
    published_version = me.IntField(default=0)           # the newest published version number, 0 for none
    created_by = me.StringField(default="")
    created_at = me.DateTimeField(default=clock.now)
    updated_by = me.StringField(default="")
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)                     # the ETag: every change adds one

    meta = {"collection": "form_drafts", "indexes": ["department", "status", "-updated_at"]}

    @property
    def schema(self) -> dict:
        return json.loads(self.schema_json)


class FormVersion(me.Document):
    """One published version of a form. Never updated after insert (archiving is recorded on the draft)."""
    key = me.StringField(required=True, max_length=64)
    version = me.IntField(required=True, min_value=1)
    title = me.StringField(required=True)
    title_en = me.StringField(default="")
    department = me.StringField(required=True)
    schema_json = me.StringField(required=True)
    json_schema_json = me.StringField(required=True)     # the form as standard JSON Schema 2020-12
    published_by = me.StringField(default="")
    published_at = me.DateTimeField(default=clock.now)

    meta = {"collection": "form_versions",
            "indexes": [{"fields": ["key", "-version"], "unique": True}, "department"]}

    @property
    def schema(self) -> dict:
        return json.loads(self.schema_json)

    @property
    def json_schema(self) -> dict:
        return json.loads(self.json_schema_json)


class PrefillMemory(me.Document):
    """What a person last answered for each `history.<slot>` field, so the next form asks only once."""
    user_id = me.StringField(required=True)
    slot = me.StringField(required=True, max_length=64)
    value_json = me.StringField(required=True)
    form_key = me.StringField(default="")
    updated_at = me.DateTimeField(default=clock.now)

    meta = {"collection": "form_prefill_memory",
            "indexes": [{"fields": ["user_id", "slot"], "unique": True}]}
