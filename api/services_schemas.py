"""Response and query schemas of the residents' service catalogue (/api/v1/services)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from designer.services_schemas import MaterialOut, region_code


class ServiceSearchArgs(Schema):
    keyword = fields.String(validate=validate.Length(max=100),
                            metadata={"description": "words in the name, code or description (Chinese or English)"})
    department = fields.String(validate=validate.Length(max=64), metadata={"description": "a department id"})
    category = fields.String(validate=validate.Length(max=64))
    region = fields.String(validate=region_code, metadata={
        "description": "where you are (6-digit GB/T 2260 code): services applicable there, in the city or "
                       "province above it, or nationwide"})


class DepartmentRef(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()


class FormRef(Schema):
    key = fields.String()
    version = fields.Integer()
    render = fields.String(metadata={"description": "the form's render model, for the application screen"})


class ServiceSummaryOut(Schema):
    code = fields.String()
    version = fields.Integer()
    name = fields.String()
    name_en = fields.String()
    category = fields.String()
    department = fields.Nested(DepartmentRef)
    time_limit_days = fields.Integer(metadata={"description": "承诺时限, working days; 0 = 即办"})
    fee_fen = fields.Integer(metadata={"description": "收费 in fen; 0 = free"})
    handling = fields.String(metadata={"description": "online (全程网办), offline (窗口办理) or both"})
    regions = fields.List(fields.String())


class ServiceDetailOut(ServiceSummaryOut):
    description = fields.String()
    description_en = fields.String()
    statutory_limit_days = fields.Integer(metadata={"description": "法定时限, working days"})
    materials = fields.List(fields.Nested(MaterialOut))
    form = fields.Nested(FormRef)
    published_at = fields.DateTime()
