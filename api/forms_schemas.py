"""Schemas of the client forms API (the render model, pre-validation, prefill) and the published-version shape
the designer API shares."""
from __future__ import annotations

from marshmallow import Schema, fields


class TextOut(Schema):
    zh_CN = fields.String(data_key="zh-CN", attribute="zh-CN")
    en = fields.String()


class ConditionOut(Schema):
    expr = fields.String(metadata={"description": "the safe expression, e.g. \"married == true\""})
    logic = fields.Raw(metadata={"description": "the same condition as a JsonLogic-shaped tree"})


class OptionOut(Schema):
    value = fields.Raw()
    label = fields.Nested(TextOut)


class ComponentOut(Schema):
    id = fields.String()
    path = fields.String(metadata={"description": "JSON pointer into the data; * stands for a row index"})
    parent = fields.String(allow_none=True, metadata={"description": "the group or repeatable group it sits in"})
    type = fields.String(metadata={"description": "the widget: text, textarea, number, integer, money, date, "
                                                  "datetime, select, radio, checkbox, multiselect, switch, "
                                                  "id-card, mobile, uscc, email, address, photo, signature, "
                                                  "file, group, repeat, readonly"})
    kind = fields.String()
    label = fields.Nested(TextOut)
    placeholder = fields.Nested(TextOut, allow_none=True)
    help = fields.Nested(TextOut, allow_none=True)
    section = fields.String(allow_none=True)
    order = fields.Raw(allow_none=True)
    required = fields.Boolean()
    required_if = fields.Nested(ConditionOut, allow_none=True)
    visible_if = fields.Nested(ConditionOut, allow_none=True)
    read_only = fields.Boolean()
    prefill = fields.String(allow_none=True)
    rules = fields.Dict(metadata={"description": "minLength, maxLength, pattern, format, minimum, maximum, "
                                                "minItems, maxItems, …"})
    options = fields.List(fields.Nested(OptionOut), allow_none=True)
    text = fields.Nested(TextOut)
    levels = fields.Integer()
    accept = fields.String(allow_none=True)
    max_size_mb = fields.Raw(allow_none=True)
    multiple = fields.Boolean()
    default = fields.Raw()


class SectionOut(Schema):
    key = fields.String()
    label = fields.Nested(TextOut)


class RenderOut(Schema):
    key = fields.String()
    version = fields.Integer()
    title = fields.Nested(TextOut)
    sections = fields.List(fields.Nested(SectionOut))
    components = fields.List(fields.Nested(ComponentOut))
    server_rules = fields.List(fields.Dict(), metadata={
        "description": "rules only the server checks (POST …/check tells the client about them)"})


class DataCheckIn(Schema):
    data = fields.Dict(required=True, metadata={"description": "the form data as the client would submit it"})


class DataCheckOut(Schema):
    valid = fields.Boolean()
    data = fields.Dict(metadata={"description": "the normalized data (money as \"12.50\")"})


class PrefillOut(Schema):
    values = fields.Dict(metadata={"description": "starting values from your profile and earlier answers"})


class VersionSummaryOut(Schema):
    key = fields.String()
    version = fields.Integer()
    title = fields.String()
    title_en = fields.String()
    department = fields.String()
    published_by = fields.String()
    published_at = fields.DateTime()


class VersionOut(VersionSummaryOut):
    schema = fields.Function(lambda v: v.schema, metadata={"description": "the definition as designed"})
    json_schema = fields.Function(lambda v: v.json_schema,
                                  metadata={"description": "the data schema as standard JSON Schema 2020-12"})
