"""Request and response schemas of the services (事项) designer API, and the body fields both APIs show."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.errors import ErrorItem
from designer.forms_schemas import FORM_KEY
from designer.process_schemas import PROCESS_KEY
from workflows.cases.catalog import checks
from workflows.cases.catalog.models import HANDLING

SERVICE_CODE = [validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$",
                                error="2–64 of A-Z, a-z, 0-9, _ and -, starting with a letter or digit"),
                validate.Predicate("isprintable", error="2–64 of A-Z, a-z, 0-9, _ and -")]
VERSION_NUMBER = validate.Range(min=1, max=999_999_999)
DAYS = validate.Range(min=0, max=3650)


def region_code(value: str) -> None:
    if not checks.is_region(value):
        raise ValidationError("not a 6-digit GB/T 2260 region code (100000 = nationwide)")


class MaterialIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    name_en = fields.String(load_default="", validate=validate.Length(max=200))
    field = fields.String(load_default="", validate=[validate.Length(max=200), validate.Regexp(
        r"^$|^(/[^/]+)+$", error="a JSON pointer to a form field, such as /id_photo")],
        metadata={"description": "the form field (JSON pointer into the data) that carries it"})
    attachment_kind = fields.String(load_default="", validate=validate.OneOf(("",) + checks.ATTACHMENT_KINDS),
                                    metadata={"description": "photo, signature or document when it is uploaded"})
    originals_needed = fields.Boolean(load_default=False, metadata={"description": "需核验原件"})
    required = fields.Boolean(load_default=True)


class AutoApprovalIn(Schema):
    process_key = fields.String(required=True, validate=PROCESS_KEY)
    process_version = fields.Integer(required=True, validate=VERSION_NUMBER)
    decision_id = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                metadata={"description": "a DMN decision of that published process version"})


class ServiceBodyIn(Schema):
    """The fields a designer writes; all optional here (an update changes those it names)."""
    name = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(validate=validate.Length(max=200))
    category = fields.String(validate=validate.Length(max=64))
    description = fields.String(validate=validate.Length(max=5000))
    description_en = fields.String(validate=validate.Length(max=5000))
    materials = fields.List(fields.Nested(MaterialIn), validate=validate.Length(max=50))
    time_limit_days = fields.Integer(validate=DAYS, metadata={"description": "承诺时限, working days; 0 = 即办"})
    statutory_limit_days = fields.Integer(validate=DAYS, metadata={"description": "法定时限, working days"})
    fee_fen = fields.Integer(validate=validate.Range(min=0, max=10_000_000_000),
                             metadata={"description": "收费 in fen (1/100 yuan); 0 = free"})
    handling = fields.String(validate=validate.OneOf(HANDLING),
                             metadata={"description": "online (全程网办), offline (窗口办理) or both"})
    regions = fields.List(fields.String(validate=region_code), validate=validate.Length(max=200),
                          metadata={"description": "GB/T 2260 codes where it may be applied for; 100000 = 全国"})
    form_key = fields.String(validate=FORM_KEY)
    form_version = fields.Integer(validate=VERSION_NUMBER)
    process_key = fields.String(validate=PROCESS_KEY)
    process_version = fields.Integer(validate=VERSION_NUMBER)
    auto_approval = fields.Nested(AutoApprovalIn, allow_none=True, metadata={
        "description": "秒批: a published DMN decision whose output `decision` (approve/reject) decides on "
                       "submission; no match, or another value, leaves the case to people. null removes it"})


class ServiceDraftIn(ServiceBodyIn):
    code = fields.String(required=True, validate=SERVICE_CODE, metadata={"description": "事项编码"})
    department = fields.String(required=True, validate=validate.Length(min=1, max=64),
                               metadata={"description": "the owning department's id"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    form_key = fields.String(required=True, validate=FORM_KEY)
    form_version = fields.Integer(required=True, validate=VERSION_NUMBER)
    process_key = fields.String(required=True, validate=PROCESS_KEY)
    process_version = fields.Integer(required=True, validate=VERSION_NUMBER)


class ServiceDraftUpdateIn(ServiceBodyIn):
    @validates_schema
    def _something(self, data, **kw):
        if not data:
            raise ValidationError("send at least one field to change", field_name="name")


class ServiceDraftListArgs(Schema):
    status = fields.String(validate=validate.OneOf(("draft", "published", "archived")))
    department = fields.String(validate=validate.Length(max=64))


class MaterialOut(Schema):
    name = fields.String()
    name_en = fields.String()
    field = fields.String()
    attachment_kind = fields.String()
    originals_needed = fields.Boolean()
    required = fields.Boolean()


def _body(name, cls=fields.String, **kw):
    return cls(attribute=f"body.{name}", **kw)


class AutoApprovalOut(Schema):
    process_key = fields.String()
    process_version = fields.Integer()
    decision_id = fields.String()


class ServiceBodyOut(Schema):
    name = _body("name")
    name_en = _body("name_en")
    category = _body("category")
    description = _body("description")
    description_en = _body("description_en")
    materials = fields.List(fields.Nested(MaterialOut), attribute="body.materials")
    time_limit_days = _body("time_limit_days", fields.Integer)
    statutory_limit_days = _body("statutory_limit_days", fields.Integer)
    fee_fen = _body("fee_fen", fields.Integer)
    handling = _body("handling")
    regions = fields.List(fields.String(), attribute="body.regions")
    form_key = _body("form_key")
    form_version = _body("form_version", fields.Integer)
    process_key = _body("process_key")
    process_version = _body("process_version", fields.Integer)
    auto_approval = fields.Nested(AutoApprovalOut, attribute="body.auto_approval", allow_none=True)


class ServiceDraftOut(ServiceBodyOut):
    code = fields.String()
    department = fields.String()
    status = fields.String(metadata={"description": "draft, published or archived"})
    published_version = fields.Integer(metadata={"description": "the newest published version, 0 for none"})
    version = fields.Integer(metadata={"description": "the draft's version; its ETag is this number quoted"})
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ServiceCheckOut(Schema):
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(ErrorItem), metadata={"description": "paths are JSON pointers into the draft"})


class ServiceVersionOut(ServiceBodyOut):
    code = fields.String()
    version = fields.Integer()
    department = fields.String()
    current = fields.Boolean(metadata={"description": "the version residents see and apply for"})
    published_by = fields.String()
    published_at = fields.DateTime()
