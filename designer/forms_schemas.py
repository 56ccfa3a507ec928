"""Request and response schemas of the forms designer API (the published-version shape is api.forms_schemas')."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.errors import ErrorItem
from api.forms_schemas import RenderOut, VersionOut, VersionSummaryOut  # noqa: F401 (the designer API serves them too)

# `$` (kept: the OpenAPI pattern must read the same in JavaScript) also matches before a final newline.
FORM_KEY = [validate.Regexp(r"^[a-z][a-z0-9_-]{1,63}$", error="2–64 of a-z, 0-9, _ and -, starting with a letter"),
            validate.Predicate("isprintable", error="2–64 of a-z, 0-9, _ and -, starting with a letter")]


class FormSchemaField(fields.Dict):
    """A form definition: JSON Schema 2020-12 with x-ui hints (docs/forms.md)."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {"description": "the form definition: JSON Schema 2020-12 with x-ui hints "
                                                  "(docs/forms.md)"})
        super().__init__(keys=fields.String(), **kw)


class DraftIn(Schema):
    key = fields.String(required=True, validate=FORM_KEY)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    title_en = fields.String(load_default="", validate=validate.Length(max=200))
    department = fields.String(required=True, validate=validate.Length(min=1, max=64),
                               metadata={"description": "the owning department's id"})
    schema = FormSchemaField(required=True)


class DraftUpdateIn(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    title_en = fields.String(validate=validate.Length(max=200))
    schema = FormSchemaField()

    @validates_schema
    def _something(self, data, **kw):
        if not data:
            raise ValidationError("send title, title_en or schema", field_name="schema")


class DraftCheckIn(Schema):
    schema = FormSchemaField(metadata={"description": "an unsaved schema to check instead of the stored draft"})


class DraftListArgs(Schema):
    status = fields.String(validate=validate.OneOf(("draft", "archived")))
    department = fields.String()
    q = fields.String(validate=validate.Length(min=1, max=100),
                      metadata={"description": "keep drafts whose key, title or English title contains it"})


class DraftSummaryOut(Schema):
    key = fields.String()
    title = fields.String()
    title_en = fields.String()
    department = fields.String()
    status = fields.String()
    published_version = fields.Integer(metadata={"description": "the newest published version, 0 for none"})
    version = fields.Integer(metadata={"description": "the draft's version; its ETag is this number quoted"})
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_by = fields.String()
    updated_at = fields.DateTime()


class DraftOut(DraftSummaryOut):
    schema = fields.Function(lambda d: d.schema)


class CheckOut(Schema):
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(ErrorItem), metadata={"description": "paths are JSON pointers into the schema"})
    fields = fields.Integer(allow_none=True, metadata={"description": "how many fields the form has"})


class DraftRenderOut(CheckOut):
    model = fields.Nested(RenderOut, allow_none=True, metadata={
        "description": "the render model of the draft (version 0), as GET /api/v1/forms/{key}/versions/{n}/render "
                       "gives it for a published version; null while the schema is not well-formed"})
