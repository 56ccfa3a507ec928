"""The attachment record: who uploaded what, where its stored renditions live, who may read it."""
from __future__ import annotations

import mongoengine as me

from core import clock

KINDS = ("photo", "signature", "document")


class Variant(me.EmbeddedDocument):
    """One stored rendition: `full`, `thumbnail`, or (when configured) `original`."""
    name = me.StringField(required=True)
    key = me.StringField(required=True)              # object key in the store
    version = me.StringField(null=True)              # the store's version id (MinIO), read by that id
    content_type = me.StringField(required=True)
    size = me.IntField(required=True)
    width = me.IntField(null=True)
    height = me.IntField(null=True)
    sha256 = me.StringField(required=True)           # of the stored bytes


class Attachment(me.Document):
    owner_id = me.StringField(required=True)         # the uploading user's id
    kind = me.StringField(required=True, choices=KINDS)
    sha256 = me.StringField(required=True)           # of the bytes as uploaded: the deduplication key
    content_type = me.StringField(required=True)     # of the `full` rendition, as are size/width/height
    size = me.IntField(required=True)
    width = me.IntField(null=True)
    height = me.IntField(null=True)
    variants = me.EmbeddedDocumentListField(Variant)
    idempotency_key = me.StringField(null=True)
    # Applications that reference this attachment (set by the applications service through grant_read):
    # their handlers may read it, and while any is listed the owner cannot delete it.
    referenced_by = me.ListField(me.StringField())
    created_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "attachments", "indexes": [
        {"fields": ["owner_id", "kind", "sha256"], "unique": True},
        {"fields": ["owner_id", "idempotency_key"], "unique": True,
         "partialFilterExpression": {"idempotency_key": {"$type": "string"}}},
        "referenced_by", "-created_at"]}

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    @property
    def submitted(self) -> bool:
        """Referenced by a submitted application (the only kind that references attachments)."""
        return bool(self.referenced_by)
