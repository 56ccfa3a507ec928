"""Bundle drafts, published bundle versions, and the bundle case (the parent of a resident's applications)."""
from __future__ import annotations

import mongoengine as me

from core import clock

ON_REJECT = ("fail_bundle", "part_only")   # a department's rejection ends the whole bundle, or only its part
STATUSES = ("draft", "published", "archived")
# the parent case: in progress → approved (every part) | partly_approved (some parts) | rejected |
# withdrawn (by the applicant, before any department acted: no part approved or rejected)
CASE_STATUSES = ("submitted", "approved", "partly_approved", "rejected", "withdrawn")
CASE_FINAL = ("approved", "partly_approved", "rejected", "withdrawn")


class BundlePart(me.EmbeddedDocument):
    """One department's service in the bundle. `service_version` is pinned when the bundle is published."""
    key = me.StringField(required=True, max_length=32)
    service_code = me.StringField(required=True, max_length=64)
    service_version = me.IntField(default=0)
    service_name = me.StringField(default="")
    department = me.StringField(default="")
    depends_on = me.ListField(me.StringField(max_length=32))     # parts whose approval this one needs first
    on_reject = me.StringField(choices=ON_REJECT, default="fail_bundle")


class SharedField(me.EmbeddedDocument):
    """A field asked once for several services: part key → that service's top-level form field."""
    key = me.StringField(required=True, max_length=64)
    label = me.StringField(default="", max_length=200)
    fields = me.DictField()


class BundleBody(me.EmbeddedDocument):
    name = me.StringField(required=True, max_length=200)
    name_en = me.StringField(default="", max_length=200)
    category = me.StringField(default="", max_length=64)
    description = me.StringField(default="", max_length=5000)
    parts = me.EmbeddedDocumentListField(BundlePart)
    shared_fields = me.EmbeddedDocumentListField(SharedField)


class BundleDraft(me.Document):
    code = me.StringField(required=True, unique=True, max_length=64)
    department = me.StringField(required=True)           # the leading department (牵头部门)
    body = me.EmbeddedDocumentField(BundleBody, required=True)
    status = me.StringField(choices=STATUSES, default="draft")
    published_version = me.IntField(default=0)
    created_by = me.StringField(default="")
    created_at = me.DateTimeField(default=clock.now)
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "bundle_drafts", "indexes": ["department", "-updated_at"]}


class BundleVersion(me.Document):
    """A published bundle: never changed after insert; `current` marks the one residents apply for."""
    code = me.StringField(required=True, max_length=64)
    version = me.IntField(required=True, min_value=1)
    department = me.StringField(required=True)
    body = me.EmbeddedDocumentField(BundleBody, required=True)
    current = me.BooleanField(default=True)
    published_by = me.StringField(default="")
    published_at = me.DateTimeField(default=clock.now)

    meta = {"collection": "bundle_versions", "indexes": [{"fields": ["code", "-version"], "unique": True},
                                                         ("current", "code")]}


class PartState(me.EmbeddedDocument):
    key = me.StringField(required=True)
    service_code = me.StringField(required=True)
    service_version = me.IntField(required=True)
    service_name = me.StringField(default="")
    department = me.StringField(default="")
    depends_on = me.ListField(me.StringField())
    on_reject = me.StringField(default="fail_bundle")
    data_json = me.StringField(default="{}")          # the part's validated data, kept until it starts
    # waiting (for the parts it depends on) | started (its application runs: see application_id) |
    # skipped (a part it needs failed) | cancelled (the bundle failed before or while it ran)
    state = me.StringField(default="waiting")
    application_id = me.ObjectIdField(null=True)


class CaseEvent(me.EmbeddedDocument):
    at = me.DateTimeField(required=True)
    action = me.StringField(required=True)            # submitted, started, skipped, cancelled, approved, …
    part = me.StringField(default="")
    actor_id = me.StringField(default="")
    actor_name = me.StringField(default="")
    comment = me.StringField(default="", max_length=2000)


class BundleCase(me.Document):
    """A resident's bundle submission: the parent of one application per department."""
    number = me.StringField(required=True)
    applicant_id = me.StringField(required=True)
    applicant_name = me.StringField(default="")        # masked (张*), for the inbox rows of parts started later
    bundle_code = me.StringField(required=True)
    bundle_version = me.IntField(required=True)
    bundle_name = me.StringField(default="")
    department = me.StringField(default="")
    parts = me.EmbeddedDocumentListField(PartState)
    status = me.StringField(choices=CASE_STATUSES, default="submitted")
    timeline = me.EmbeddedDocumentListField(CaseEvent)
    result_at = me.DateTimeField(null=True)
    withdrawn_at = me.DateTimeField(null=True)         # the applicant withdrew it: nothing more starts
    idempotency_key = me.StringField(null=True)
    created_at = me.DateTimeField(default=clock.now)
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "bundle_cases", "indexes": [
        ("applicant_id", "-created_at"),
        {"fields": ["applicant_id", "idempotency_key"], "unique": True,
         "partialFilterExpression": {"idempotency_key": {"$type": "string"}}}]}
