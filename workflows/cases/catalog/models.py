"""Service drafts (what a designer edits) and published service versions (immutable, what residents apply for)."""
from __future__ import annotations

import mongoengine as me

from core import clock

HANDLING = ("online", "offline", "both")       # 全程网办 / 窗口办理 / either
STATUSES = ("draft", "published", "archived")


class Material(me.EmbeddedDocument):
    """One required material (申请材料) and what satisfies it in the application."""
    name = me.StringField(required=True, max_length=200)
    name_en = me.StringField(default="", max_length=200)
    field = me.StringField(default="", max_length=200)        # the form field (JSON pointer) that carries it
    attachment_kind = me.StringField(default="", max_length=20)   # photo | signature | document, when uploaded
    originals_needed = me.BooleanField(default=False)         # 需核验原件
    required = me.BooleanField(default=True)


class AutoApproval(me.EmbeddedDocument):
    """秒批: a published DMN decision that decides on submission; its output `decision` is approve or reject
    (anything else, or no matching rule, leaves the case to people)."""
    process_key = me.StringField(required=True, max_length=64)    # the published process version holding the DMN
    process_version = me.IntField(required=True, min_value=1)
    decision_id = me.StringField(required=True, max_length=200)


class ServiceBody(me.EmbeddedDocument):
    """What a designer writes; copied as is into each published version."""
    name = me.StringField(required=True, max_length=200)
    name_en = me.StringField(default="", max_length=200)
    category = me.StringField(default="", max_length=64)
    description = me.StringField(default="", max_length=5000)
    description_en = me.StringField(default="", max_length=5000)
    materials = me.EmbeddedDocumentListField(Material)
    time_limit_days = me.IntField(min_value=0, default=0)      # 承诺时限, working days; 0 = 即办
    statutory_limit_days = me.IntField(min_value=0, default=0)  # 法定时限, working days
    escalate_to_role = me.StringField(default="lead", choices=("lead", "approver"))  # who hears of overdue cases
    fee_fen = me.IntField(min_value=0, default=0)               # 收费, in fen; 0 = free
    handling = me.StringField(choices=HANDLING, default="online")
    regions = me.ListField(me.StringField(max_length=12))       # GB/T 2260 region codes where it may be applied for
    form_key = me.StringField(required=True, max_length=64)
    form_version = me.IntField(required=True, min_value=1)
    process_key = me.StringField(required=True, max_length=64)
    process_version = me.IntField(required=True, min_value=1)
    auto_approval = me.EmbeddedDocumentField(AutoApproval, null=True)   # 秒批, optional


class ServiceDraft(me.Document):
    code = me.StringField(required=True, unique=True, max_length=64)   # 事项编码
    department = me.StringField(required=True)                          # the owning department's id
    body = me.EmbeddedDocumentField(ServiceBody, required=True)
    status = me.StringField(choices=STATUSES, default="draft")
    published_version = me.IntField(default=0)
    created_by = me.StringField(default="")
    created_at = me.DateTimeField(default=clock.now)
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)                                    # the ETag

    meta = {"collection": "service_drafts", "indexes": ["department", "-updated_at"]}


class ServiceVersion(me.Document):
    """A published service: never changed after insert. `current` marks the newest of a code that is not
    archived — the one residents see and apply for (applications keep the version they started on)."""
    code = me.StringField(required=True, max_length=64)
    version = me.IntField(required=True, min_value=1)
    department = me.StringField(required=True)
    body = me.EmbeddedDocumentField(ServiceBody, required=True)
    current = me.BooleanField(default=True)
    search_text = me.StringField(default="")        # lower-cased names and description, for keyword search
    # What the catalogue search looks up by equality, one multikey index: "t:<term>" (character bigrams and
    # unigrams of the Chinese text, prefixes of Latin words), "d:<department>", "c:<category>", "r:<region>".
    search_keys = me.ListField(me.StringField())
    published_by = me.StringField(default="")
    published_at = me.DateTimeField(default=clock.now)

    meta = {"collection": "service_versions", "indexes": [
        {"fields": ["code", "-version"], "unique": True},
        ("current", "department", "body.category"),
        ("current", "body.regions"),
        ("current", "search_keys"),     # search: every filter is one equality on this index (search.py)
        ("current", "code")]}           # the unfiltered catalogue, in code order
