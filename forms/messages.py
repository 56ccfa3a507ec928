"""Error messages of form validation, in zh-CN and en.

An error item is {"path", "code", "message", "message_zh", "message_en"}: `path` a JSON pointer into the data,
`code` stable, `message_zh`/`message_en` the detailed texts with the limits filled in, and `message` the key
"form.<code>" — the API (api/forms_views registers these keys) turns it into a short text in the request's
language, so a client that reads only `message` still gets its language.
"""
from __future__ import annotations

# code → (zh-CN, en); {limit}, {expected} are filled from the error's params
DETAIL = {
    "required": ("此项为必填项", "This field is required"),
    "type": ("类型不正确，应为{expected}", "Wrong type: expected {expected}"),
    "too_long": ("不能超过 {limit} 个字符", "At most {limit} characters"),
    "too_short": ("至少需要 {limit} 个字符", "At least {limit} characters"),
    "pattern": ("格式不正确", "Does not match the required pattern"),
    "cn_id_card": ("身份证号无效（应为 18 位，出生日期和校验码须正确）",
                   "Not a valid resident ID number (18 characters, a real birth date, a correct check digit)"),
    "cn_mobile": ("手机号无效", "Not a valid mainland mobile number"),
    "cn_uscc": ("统一社会信用代码无效（应为 18 位，校验码须正确）",
                "Not a valid unified social credit code (18 characters, a correct check character)"),
    "email": ("邮箱地址无效", "Not a valid email address"),
    "date": ("日期无效，格式应为 YYYY-MM-DD", "Not a valid date (YYYY-MM-DD)"),
    "datetime": ("时间无效，应为带时区的 ISO 8601 时间", "Not a valid date and time (ISO 8601 with a UTC offset)"),
    "money": ("金额无效，最多保留两位小数", "Not a valid amount (at most 2 decimal places)"),
    "region": ("行政区划代码无效或上下级不一致", "Not a valid chain of region codes"),
    "attachment": ("附件标识无效", "Not a valid attachment id"),
    "not_in_options": ("不是可选的选项", "Not one of the options"),
    "minimum": ("不能小于 {limit}", "Must be at least {limit}"),
    "maximum": ("不能大于 {limit}", "Must be at most {limit}"),
    "exclusive_minimum": ("必须大于 {limit}", "Must be more than {limit}"),
    "exclusive_maximum": ("必须小于 {limit}", "Must be less than {limit}"),
    "multiple_of": ("必须是 {limit} 的整数倍", "Must be a multiple of {limit}"),
    "too_few_items": ("至少需要 {limit} 项", "At least {limit} items"),
    "too_many_items": ("最多 {limit} 项", "At most {limit} items"),
    "not_unique": ("不能有重复项", "Items must not repeat"),
    "not_allowed": ("不允许填写此项", "This field is not allowed here"),
}

# The short texts behind "form.<code>" (no limits: the API fills no params into item messages).
GENERIC = {
    **{code: texts for code, texts in DETAIL.items() if "{" not in texts[0]},
    "type": ("类型不正确", "Wrong type"),
    "too_long": ("内容过长", "Too long"),
    "too_short": ("内容过短", "Too short"),
    "minimum": ("数值过小", "Too small"),
    "maximum": ("数值过大", "Too large"),
    "exclusive_minimum": ("数值过小", "Too small"),
    "exclusive_maximum": ("数值过大", "Too large"),
    "multiple_of": ("数值不符合步长", "Not a multiple of the step"),
    "too_few_items": ("项数过少", "Too few items"),
    "too_many_items": ("项数过多", "Too many items"),
}

TYPE_NAMES = {"string": ("文本", "text"), "number": ("数字", "a number"), "integer": ("整数", "a whole number"),
              "boolean": ("是/否", "true or false"), "array": ("列表", "a list"), "object": ("对象", "an object"),
              "null": ("空值", "null")}

FORMAT_CODES = {"cn-id-card": "cn_id_card", "cn-mobile": "cn_mobile", "cn-uscc": "cn_uscc", "email": "email",
                "date": "date", "date-time": "datetime", "money": "money", "region-code": "region",
                "attachment-id": "attachment"}


def pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def item(path, code: str, params: dict | None = None) -> dict:
    zh, en = DETAIL.get(code, DETAIL["type"])
    params = params or {}
    if "expected" in params:
        names = TYPE_NAMES.get(params["expected"], (params["expected"], params["expected"]))
        zh_params, en_params = {**params, "expected": names[0]}, {**params, "expected": names[1]}
    else:
        zh_params = en_params = params
    return {"path": pointer(path), "code": code, "message": f"form.{code}",
            "message_zh": zh.format(**zh_params), "message_en": en.format(**en_params)}


def i18n_keys() -> dict:
    """{"form.<code>": (zh, en)} for api.i18n.register."""
    return {f"form.{code}": texts for code, texts in GENERIC.items()}
