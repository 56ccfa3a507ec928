"""Schemas of /api/v1/bundles (the 一件事 catalogue) and /api/v1/bundle-cases (a resident's bundle submissions)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.applications_schemas import ResultOut, StepOut
from designer.bundles_schemas import PartOut


class BundleSearchArgs(Schema):
    keyword = fields.String(load_default=None, validate=validate.Length(max=100))


class BundleSummaryOut(Schema):
    code = fields.String()
    version = fields.Integer()
    department = fields.String(metadata={"description": "the leading department's id"})
    name = fields.String(attribute="body.name")
    name_en = fields.String(attribute="body.name_en")
    category = fields.String(attribute="body.category")
    description = fields.String(attribute="body.description")
    parts = fields.List(fields.Nested(PartOut), attribute="body.parts")
    kind = fields.Constant("bundle", metadata={"description": "always `bundle` (services are `GET /services`)"})


class BundleDetailOut(BundleSummaryOut):
    form = fields.Dict(metadata={"description": "the merged form: `shared` fields asked once ({key, label, path, "
                                                "component, fields}) and each part's own form ({key, path, form, "
                                                "shared: the fields the shared ones fill})"})


class BundleCaseIn(Schema):
    bundle_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    shared = fields.Dict(load_default=dict, metadata={"description": "shared field key → value, asked once"})
    parts = fields.Dict(keys=fields.String(validate=validate.Length(1, 32)), values=fields.Raw(),
                        load_default=dict, metadata={"description": "part key → that service's own fields"})


class CasePartOut(Schema):
    key = fields.String()
    service_code = fields.String()
    service_name = fields.String()
    department = fields.String()
    depends_on = fields.List(fields.String())
    on_reject = fields.String()
    status = fields.String(metadata={"description": "waiting, skipped, cancelled, or its application's status"})
    application_id = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    current_steps = fields.List(fields.Nested(StepOut))
    result = fields.Nested(ResultOut, allow_none=True)


class CaseEventOut(Schema):
    at = fields.DateTime()
    action = fields.String()
    part = fields.String()
    service_name = fields.String()
    department = fields.String()
    step = fields.String()
    actor_name = fields.String()
    comment = fields.String()
    automatic = fields.Boolean()
    rule = fields.String()
    bundle = fields.Boolean(metadata={"description": "an event of the bundle itself (a part started, skipped…)"})


class BundleCaseOut(Schema):
    id = fields.String()
    number = fields.String()
    bundle_code = fields.String()
    bundle_version = fields.Integer()
    bundle_name = fields.String()
    status = fields.String(metadata={"description": "submitted, approved, partly_approved, rejected or withdrawn"})
    withdrawable = fields.Boolean(metadata={"description": "撤回 is still possible: no department has acted"})
    parts = fields.List(fields.Nested(CasePartOut))
    timeline = fields.List(fields.Nested(CaseEventOut), metadata={"description": "every department's, in time order"})
    result = fields.Dict(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class BundleCaseSummaryOut(Schema):
    id = fields.String()
    number = fields.String()
    bundle_code = fields.String()
    bundle_name = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
