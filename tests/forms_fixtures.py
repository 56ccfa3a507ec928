"""Forms used by the forms tests and the benchmark: one field of every kind, and a large realistic form."""
from __future__ import annotations

import copy

ID_CARD = "11010519491231002X"       # the worked example of GB 11643-1999
ID_CARD_2 = "440308199001011239"      # check digit computed by the standard's weights (Shenzhen, 1990-01-01)
USCC = "91350100M000100Y43"          # a well-known example of GB 32100-2015
USCC_2 = "91110000802100433B"
ATTACHMENT = "65f0c0ffee0000000000abcd"
ATTACHMENT_2 = "65f0c0ffee0000000000abce"

EVERY_KIND = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "最低生活保障申请",
    "type": "object",
    "x-ui": {"sections": [{"key": "applicant", "label": {"zh-CN": "申请人", "en": "Applicant"}},
                          {"key": "household", "label": {"zh-CN": "家庭情况", "en": "Household"}}]},
    "required": ["name", "id_card", "phone", "amount", "kind", "agree", "signature"],
    "properties": {
        "notice": {"x-ui": {"widget": "readonly", "section": "applicant",
                            "text": {"zh-CN": "请如实填写", "en": "Answer truthfully"}}},
        "name": {"type": "string", "maxLength": 50, "x-prefill": "profile.name", "readOnly": True,
                 "x-ui": {"widget": "text", "label": {"zh-CN": "姓名", "en": "Name"}, "section": "applicant",
                          "order": 1}},
        "id_card": {"type": "string", "x-prefill": "profile.id_card",
                    "x-ui": {"widget": "id-card", "label": {"zh-CN": "身份证号", "en": "ID card number"},
                             "section": "applicant", "order": 2}},
        "phone": {"type": "string", "x-prefill": "profile.phone",
                  "x-ui": {"widget": "mobile", "label": {"zh-CN": "手机号", "en": "Mobile"}, "section": "applicant"}},
        "email": {"type": "string", "x-ui": {"widget": "email", "label": "电子邮箱"}},
        "company_code": {"type": "string", "x-ui": {"widget": "uscc", "label": "统一社会信用代码"}},
        "reason": {"type": "string", "minLength": 5, "x-ui": {"widget": "textarea", "label": "申请理由",
                                                              "placeholder": "请说明家庭困难情况"}},
        "postcode": {"type": "string", "pattern": "^[1-9]\\d{5}$", "x-ui": {"widget": "text", "label": "邮编"}},
        "income": {"type": "number", "minimum": 0, "x-ui": {"widget": "number", "label": "月收入"}},
        "members_count": {"type": "integer", "minimum": 1, "maximum": 20,
                          "x-ui": {"widget": "integer", "label": "家庭人数"}},
        "amount": {"type": "string", "minimum": 0, "maximum": 100000,
                   "x-ui": {"widget": "money", "label": {"zh-CN": "申请金额（元）", "en": "Amount (CNY)"}}},
        "apply_date": {"type": "string", "x-ui": {"widget": "date", "label": "申请日期"}},
        "appointment": {"type": "string", "x-ui": {"widget": "datetime", "label": "预约时间"}},
        "kind": {"type": "string", "enum": ["urban", "rural"],
                 "x-ui": {"widget": "radio", "label": "户籍类型",
                          "options": [{"value": "urban", "label": {"zh-CN": "城镇", "en": "Urban"}},
                                      {"value": "rural", "label": {"zh-CN": "农村", "en": "Rural"}}]}},
        "difficulties": {"type": "array", "items": {"enum": ["illness", "disability", "unemployment"]},
                         "minItems": 1, "x-ui": {"widget": "checkbox", "label": "困难类型"}},
        "agree": {"type": "boolean", "const": True, "x-ui": {"widget": "switch", "label": "本人承诺所填属实"}},
        "married": {"type": "boolean", "x-ui": {"widget": "switch", "label": "已婚"}},
        "spouse_name": {"type": "string", "x-visible-if": "married == true", "x-required-if": "married == true",
                        "x-ui": {"widget": "text", "label": "配偶姓名"}},
        "address": {"type": "object", "x-ui": {"widget": "address", "label": "居住地址", "levels": 3}},
        "id_photo": {"type": "string", "x-ui": {"widget": "photo", "label": "身份证照片"}},
        "signature": {"type": "string", "x-ui": {"widget": "signature", "label": "签名"}},
        "proofs": {"type": "array", "maxItems": 5, "x-ui": {"widget": "file", "label": "证明材料"}},
        "bank": {"type": "object", "x-ui": {"widget": "group", "label": "收款账户"}, "required": ["account"],
                 "properties": {"bank_name": {"type": "string", "x-ui": {"label": "开户行"}},
                                "account": {"type": "string", "pattern": "^\\d{12,19}$",
                                            "x-ui": {"label": "账号"}}}},
        "family": {"type": "array", "minItems": 0, "maxItems": 10,
                   "x-ui": {"widget": "repeat", "label": {"zh-CN": "家庭成员", "en": "Family members"}},
                   "items": {"type": "object", "required": ["member_name", "relation"], "properties": {
                       "member_name": {"type": "string", "x-ui": {"label": "姓名"}},
                       "relation": {"type": "string", "enum": ["spouse", "child", "parent"],
                                    "x-ui": {"widget": "select", "label": "关系"}},
                       "school": {"type": "string", "x-visible-if": "relation == 'child'",
                                  "x-ui": {"label": "就读学校"}},
                       "member_id": {"type": "string", "x-ui": {"widget": "id-card", "label": "身份证号"},
                                     "x-required-if": "$.kind == 'rural'"}}}},
        "home_address_text": {"type": "string", "x-prefill": "history.home_address",
                              "x-ui": {"label": "常住地址（文字）"}},
    },
    "allOf": [{"if": {"properties": {"kind": {"const": "rural"}}, "required": ["kind"]},
               "then": {"required": ["address"]}}],
    "dependentRequired": {"company_code": ["email"]},
}

VALID = {
    "name": "  张三 ", "id_card": ID_CARD.lower(), "phone": "+86 138-0013-8000", "email": "zs@example.cn",
    "reason": "家庭成员患病，收入不足", "postcode": "100101", "income": 1200.5, "members_count": 3,
    "amount": "1500.5", "apply_date": "2024-03-01", "appointment": "2024-03-05T09:30:00+08:00",
    "kind": "rural", "difficulties": ["illness"], "agree": True, "married": True, "spouse_name": "李四",
    "address": {"region": ["110000", "110100", "110105"], "detail": "望京街道 1 号"},
    "id_photo": ATTACHMENT, "signature": ATTACHMENT_2, "proofs": [ATTACHMENT],
    "bank": {"bank_name": "工商银行", "account": "6222020200001234567"},
    "family": [{"member_name": "张小三", "relation": "child", "school": "朝阳小学", "member_id": ID_CARD_2}],
    "unknown_field": "dropped",
}


def every_kind():
    return copy.deepcopy(EVERY_KIND)


def valid_data():
    return copy.deepcopy(VALID)


def bench_form(fields: int = 100, conditionals: int = 10, row_fields: int = 5):
    """A large realistic form: `fields` top-level fields of mixed kinds (one of them a repeatable group), of
    which `conditionals` are shown by an x-visible-if on a switch."""
    kinds = [
        ({"type": "string", "maxLength": 50, "x-ui": {"widget": "text"}}, "张三丰"),
        ({"type": "string", "x-ui": {"widget": "id-card"}}, ID_CARD),
        ({"type": "string", "x-ui": {"widget": "mobile"}}, "13800138000"),
        ({"type": "integer", "minimum": 0, "maximum": 150, "x-ui": {"widget": "integer"}}, 42),
        ({"type": "string", "minimum": 0, "x-ui": {"widget": "money"}}, "1234.50"),
        ({"type": "string", "x-ui": {"widget": "date"}}, "2024-03-01"),
        ({"type": "string", "enum": ["a", "b", "c", "d"], "x-ui": {"widget": "select"}}, "c"),
        ({"type": "boolean", "x-ui": {"widget": "switch"}}, True),
        ({"type": "string", "pattern": "^[1-9]\\d{5}$", "x-ui": {"widget": "text"}}, "100101"),
        ({"type": "string", "x-ui": {"widget": "textarea"}}, "一段较长的说明文字，描述申请的具体情况。"),
        ({"type": "string", "x-ui": {"widget": "uscc"}}, USCC),
        ({"type": "array", "items": {"enum": ["x", "y", "z"]}, "x-ui": {"widget": "checkbox"}}, ["x", "z"]),
    ]
    props, data, required = {}, {}, []
    props["has_extra"] = {"type": "boolean", "x-ui": {"widget": "switch", "label": "补充信息"}}
    data["has_extra"] = True
    for i in range(fields - 2):
        node, value = copy.deepcopy(kinds[i % len(kinds)])
        name = f"f{i:03d}"
        node["x-ui"]["label"] = {"zh-CN": f"字段{i}", "en": f"Field {i}"}
        if i < conditionals:
            node["x-visible-if"] = "has_extra == true" if i % 2 else "f003 >= 18 and has_extra"
        elif i % 3 == 0:
            required.append(name)
        props[name] = node
        data[name] = copy.deepcopy(value)
    row = {"type": "object", "required": ["name", "relation"], "properties": {
        "name": {"type": "string", "maxLength": 30, "x-ui": {"label": "姓名"}},
        "relation": {"type": "string", "enum": ["spouse", "child", "parent"], "x-ui": {"widget": "select"}},
        "id_card": {"type": "string", "x-ui": {"widget": "id-card"}},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "income": {"type": "string", "x-ui": {"widget": "money"}}}}
    for j in range(5, row_fields):
        row["properties"][f"extra{j}"] = {"type": "string", "maxLength": 20}
    props["members"] = {"type": "array", "minItems": 1, "maxItems": 50, "items": row,
                        "x-ui": {"widget": "repeat", "label": "家庭成员"}}
    data["members"] = [{"name": f"成员{k}", "relation": "child", "id_card": ID_CARD, "age": 10 + k,
                        "income": "100.00"} for k in range(20)]
    schema = {"type": "object", "title": "基准表单", "required": required, "properties": props}
    return schema, data
