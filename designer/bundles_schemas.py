"""Request and response schemas of the bundle (一件事) designer API."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.errors import ErrorItem
from designer.services_schemas import SERVICE_CODE
from workflows.cases.bundles.models import ON_REJECT

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="1–32 of a-z, 0-9 and _, starting with a letter")


class PartIn(Schema):
    key = fields.String(required=True, validate=KEY, metadata={"description": "the part's key in the merged form"})
    service_code = fields.String(required=True, validate=SERVICE_CODE)
    depends_on = fields.List(fields.String(validate=KEY), load_default=list, validate=validate.Length(max=20),
                             metadata={"description": "parts whose approval this one needs first (in order)"})
    on_reject = fields.String(load_default="fail_bundle", validate=validate.OneOf(ON_REJECT), metadata={
        "description": "fail_bundle: its rejection fails the whole bundle; part_only: only this part"})


class SharedFieldIn(Schema):
    key = fields.String(required=True, validate=KEY, metadata={"description": "the shared field id, e.g. id_card"})
    label = fields.String(load_default="", validate=validate.Length(max=200))
    fields_ = fields.Dict(keys=fields.String(validate=KEY), values=fields.String(validate=validate.Length(1, 200)),
                          required=True, data_key="fields", attribute="fields",
                          metadata={"description": "part key → the top-level field of that service's form"})


class BundleBodyIn(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(validate=validate.Length(max=200))
    category = fields.String(validate=validate.Length(max=64))
    description = fields.String(validate=validate.Length(max=5000))
    parts = fields.List(fields.Nested(PartIn), validate=validate.Length(max=20))
    shared_fields = fields.List(fields.Nested(SharedFieldIn), validate=validate.Length(max=50))


class BundleDraftIn(BundleBodyIn):
    code = fields.String(required=True, validate=SERVICE_CODE)
    department = fields.String(required=True, validate=validate.Length(min=1, max=64),
                               metadata={"description": "the leading department's id (牵头部门)"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class BundleDraftUpdateIn(BundleBodyIn):
    @validates_schema
    def _something(self, data, **kw):
        if not data:
            raise ValidationError("send at least one field to change", field_name="name")


class PartOut(Schema):
    key = fields.String()
    service_code = fields.String()
    service_version = fields.Integer(metadata={"description": "pinned at publish (0 in a draft)"})
    service_name = fields.String()
    department = fields.String()
    depends_on = fields.List(fields.String())
    on_reject = fields.String()


class SharedFieldOut(Schema):
    key = fields.String()
    label = fields.String()
    fields_ = fields.Dict(data_key="fields", attribute="fields")


class BundleBodyOut(Schema):
    name = fields.String(attribute="body.name")
    name_en = fields.String(attribute="body.name_en")
    category = fields.String(attribute="body.category")
    description = fields.String(attribute="body.description")
    parts = fields.List(fields.Nested(PartOut), attribute="body.parts")
    shared_fields = fields.List(fields.Nested(SharedFieldOut), attribute="body.shared_fields")


class BundleDraftOut(BundleBodyOut):
    code = fields.String()
    department = fields.String()
    status = fields.String()
    published_version = fields.Integer()
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class BundleVersionOut(BundleBodyOut):
    code = fields.String()
    version = fields.Integer()
    department = fields.String()
    current = fields.Boolean()
    published_at = fields.DateTime()


class BundleCheckOut(Schema):
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(ErrorItem))
