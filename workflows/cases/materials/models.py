"""A resident's file (一人一档): one record per material — an upload filed under a kind, or an issued licence
(电子证照) — each backed by an attachment the resident owns, so a later form attaches it without re-uploading."""
from __future__ import annotations

import mongoengine as me

from core import clock

SOURCES = ("upload", "licence")
STATUSES = ("valid", "revoked")          # "expired" is not stored: it follows from valid_until and today


class PersonalMaterial(me.Document):
    owner_id = me.StringField(required=True)
    kind = me.StringField(required=True, max_length=64)        # e.g. hukou, id_card, residence_permit
    name = me.StringField(default="", max_length=200)          # what a person calls it: 户口簿, 居住证
    source = me.StringField(required=True, choices=SOURCES)
    attachment_id = me.StringField(required=True)
    # where it came from: the form it was first attached to, or the application whose approval issued it
    form_key = me.StringField(default="")
    application_id = me.StringField(default="")
    application_number = me.StringField(default="")
    # licences (电子证照)
    number = me.StringField()                                  # the licence number, printed on it (else unset)
    issuer_id = me.StringField(default="")                     # the issuing department's id
    issuer_name = me.StringField(default="")
    holder_name = me.StringField(default="")
    valid_from = me.DateField(null=True)
    valid_until = me.DateField(null=True)                      # None: long-term (长期)
    status = me.StringField(choices=STATUSES, default="valid")
    revoked_at = me.DateTimeField(null=True)
    revoked_reason = me.StringField(default="", max_length=500)
    content_hash = me.StringField(default="")                  # sha256 of the printed facts (printed on it)
    file_sha256 = me.StringField(default="")                   # sha256 of the stored PDF's bytes
    created_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "materials", "indexes": [
        {"fields": ["owner_id", "attachment_id"], "unique": True},
        ("owner_id", "kind", "-created_at"),
        {"fields": ["number"], "unique": True, "sparse": True},     # not partial: see applications' number
        {"fields": ["application_id"], "unique": True,
         "partialFilterExpression": {"source": "licence"}}]}


class Seal(me.Document):
    """A department's seal image (an attachment an admin uploaded), printed on the results it issues."""
    id = me.StringField(primary_key=True)                      # the department's id
    attachment_id = me.StringField(required=True)
    updated_at = me.DateTimeField(default=clock.now)
