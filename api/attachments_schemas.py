"""Schemas of /api/v1/attachments: the multipart upload, the content query, the attachment as sent out."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from werkzeug.datastructures import FileStorage

from storage.models import KINDS


class FilePart(Upload):
    """A multipart part sent as a file. The multipart location merges form fields and files, so a plain text
    field named `file` would otherwise reach the service as a str (a 500)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ValidationError("Not a file: send it as a file part (with a filename).")
        return value


class UploadIn(Schema):
    """The multipart body of an upload."""
    kind = fields.String(required=True, validate=validate.OneOf(KINDS),
                         metadata={"description": "photo | signature | document"})
    file = FilePart(required=True, metadata={"description": "the file; its type is judged from its content"})


class IdempotencyHeaders(Schema):
    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(data_key="Idempotency-Key", load_default=None,
                                    validate=validate.Length(min=1, max=128),
                                    metadata={"description": "a retry with the same key returns the same attachment"})


class ContentArgs(Schema):
    variant = fields.String(load_default="full", validate=validate.OneOf(("full", "thumbnail", "original")))
    reason = fields.String(load_default="", validate=validate.Length(max=200), metadata={
        "description": "why you open it: required for a copy's (抄送) full file, and recorded with the read"})


class LinkOut(Schema):
    url = fields.String(metadata={"description": "presigned (MinIO) or app-signed (files on disk) URL"})
    expires_in = fields.Integer(metadata={"description": "seconds the link stays valid"})


class AttachmentOut(Schema):
    id = fields.String()
    kind = fields.String()
    content_type = fields.String(metadata={"description": "of the stored `full` rendition"})
    size = fields.Integer(metadata={"description": "bytes of the stored `full` rendition"})
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    sha256 = fields.String(metadata={"description": "of the bytes as uploaded (the deduplication key)"})
    created_at = fields.DateTime()
    variants = fields.Function(lambda a: [v.name for v in a.variants], metadata={"description": "renditions"})
    submitted = fields.Boolean(metadata={"description": "referenced by a submitted application: not deletable"})
