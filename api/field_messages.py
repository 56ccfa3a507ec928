"""Field-level messages in zh-CN and en: marshmallow's texts and designers' problem texts.

marshmallow, webargs and our schemas' `error=` texts speak English; designers' problems (forms/language.py,
workflows/bpmn/validation.py) carry an English detail and a stable code. `localize(item)` gives an error item its
`message` in the request's language (the English detail of a designer's problem is the en text; zh-CN gets
the text of its code).
"""
from __future__ import annotations

import re

from api import i18n

# marshmallow (and webargs) message templates: English template → (item code, zh template). The {names} are
# taken from the English text and put into the Chinese one.
_RANGE_OPS = {"greater than or equal to": "不能小于", "greater than": "必须大于", "less than or equal to": "不能大于",
              "less than": "必须小于"}
FIELD_TEMPLATES = [
    ("Missing data for required field.", "required", "此项为必填项"),
    ("Unknown field.", "unknown_field", "不允许此字段"),
    ("Field may not be null.", "null", "此项不能为空值"),
    ("Invalid input type.", "type", "输入类型不正确"),
    ("Invalid type.", "type", "类型不正确"),
    ("Invalid input.", "invalid", "输入无效"),
    ("Invalid value.", "invalid", "值无效"),
    ("Not a valid string.", "type", "应为文本"),
    ("Not a valid utf-8 string.", "type", "应为 UTF-8 文本"),
    ("Not a valid integer.", "type", "应为整数"),
    ("Not a valid number.", "type", "应为数字"),
    ("Number too large.", "number_out_of_range", "数值过大"),
    ("Special numeric values (nan or infinity) are not permitted.", "type", "不允许 NaN 或无穷大"),
    ("Not a valid boolean.", "type", "应为 true 或 false"),
    ("Not a valid list.", "type", "应为列表"),
    ("Not a valid tuple.", "type", "应为列表"),
    ("Not a valid mapping type.", "type", "应为对象"),
    ("Not a valid date.", "type", "日期无效"),
    ("Not a valid datetime.", "type", "日期时间无效"),
    ("Not a valid naive datetime.", "type", "日期时间无效（不应带时区）"),
    ("Not a valid aware datetime.", "type", "日期时间无效（应带时区）"),
    ("Not a valid time.", "type", "时间无效"),
    ("Not a valid period of time.", "type", "时长无效"),
    ("Not a valid email address.", "invalid", "邮箱地址无效"),
    ("Not a valid URL.", "invalid", "网址无效"),
    ("Not a valid UUID.", "invalid", "UUID 无效"),
    ("String does not match expected pattern.", "pattern", "格式不正确"),
    ("Length must be between {min} and {max}.", "length", "长度须在 {min} 到 {max} 之间"),
    ("Length must be {equal}.", "length", "长度须为 {equal}"),
    ("Longer than maximum length {max}.", "too_long", "长度不能超过 {max}"),
    ("Shorter than minimum length {min}.", "too_short", "长度不能少于 {min}"),
    ("Must be one of: {choices}.", "not_in_options", "只能是以下之一：{choices}"),
    ("Must be equal to {other}.", "invalid", "必须等于 {other}"),
    ("One or more of the choices you made was not in: {choices}.", "not_in_options",
     "有选项不在可选范围内：{choices}"),
    ("Not a valid {obj_type}.", "type", "类型不正确"),
    ("Invalid JSON body.", "invalid_json", "请求体不是有效的 JSON"),   # webargs'
    # our schemas' own texts (error=…)
    ("3–64 letters, digits or _ . @ -", "pattern", "3–64 个字母、数字或 _ . @ -"),
    ("2–64 of a-z, 0-9, _ and -, starting with a letter", "pattern", "2–64 个 a-z、0-9、_ 或 -，以字母开头"),
    ("2–64 of A-Z, a-z, 0-9, _ and -, starting with a letter", "pattern", "2–64 个 A-Z、a-z、0-9、_ 或 -，以字母开头"),
    ("Not a valid resident ID number (18 characters, a real birth date, a correct check digit)", "cn_id_card",
     "身份证号无效（应为 18 位，出生日期和校验码须正确）"),
    ("Not a valid mainland mobile number", "cn_mobile", "手机号无效"),
] + [  # validate.Range: "Must be greater than or equal to 0 and less than or equal to 9." and its halves
    (f"Must be {low} {{min}} and {high} {{max}}.", "out_of_range", f"{_RANGE_OPS[low]} {{min}}，且{_RANGE_OPS[high]} {{max}}")
    for low in ("greater than or equal to", "greater than") for high in ("less than or equal to", "less than")
] + [(f"Must be {op} {{limit}}.", "out_of_range", f"{zh} {{limit}}") for op, zh in _RANGE_OPS.items()]


def _compile(template: str):
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(pattern + r"\Z", re.S)


_COMPILED = [(_compile(en), code, zh) for en, code, zh in FIELD_TEMPLATES]

# designers' problems (forms/language.py, workflows/bpmn/validation.py): code → zh text; the English detail stays
PROBLEMS = {
    # forms
    "not_an_object": "表单应为 {\"type\": \"object\", \"properties\": {…}} 的 JSON 对象",
    "meta_schema": "不符合 JSON Schema 2020-12 规范",
    "too_many_fields": "字段过多",
    "unknown_field": "不认识的字段或关键字",
    "invalid_ui": "x-ui 设置无效",
    "widget_type_mismatch": "控件与数据类型不一致",
    "unsupported_keyword": "不支持的 JSON Schema 关键字",
    "unknown_widget": "未知的控件类型",
    "unknown_ui_key": "未知的 x-ui 设置项",
    "unknown_section": "引用了不存在的分组",
    "unknown_extension": "未知的 x- 扩展",
    "too_deep": "嵌套层级过深",
    "readonly_required": "只读字段不能设为必填（除非有预填）",
    "options_mismatch": "选项与 enum 不一致",
    "missing_options": "缺少选项",
    "limits_crossed": "下限大于上限",
    "limit_too_high": "上限过大",
    "invalid_prefill": "预填来源无效",
    "invalid_mask": "数据类别（脱敏）无效：身份证号、手机号、地址、银行卡号或姓名，只用于文本或地址字段",
    "invalid_option": "选项无效",
    "invalid_key": "字段名无效（字母开头，仅字母、数字和下划线，最多 64 个字符）",
    "invalid_condition": "条件表达式无效",
    "empty_group": "分组中没有字段",
    "duplicate_option": "选项重复",
    "duplicate_key": "字段名重复",
    "condition_cycle": "条件之间存在循环依赖",
    # processes (BPMN / DMN)
    "malformed_xml": "XML 格式不正确",
    "xsd": "不符合 BPMN 2.0 规范",
    "no_process": "文件中没有流程",
    "no_start_event": "缺少开始事件",
    "no_end_event": "缺少结束事件",
    "unsupported_element": "不支持的 BPMN 元素",
    "missing_node": "连线的起点或终点不存在",
    "unknown_process": "调用的流程不存在或未发布",
    "no_form": "用户任务未指定表单（formKey）",
    "no_outcome": "流程有多个结束事件，每个结束事件都须设置办结结果（通过或不通过）",
    "bad_outcome": "办结结果只能是 approved（通过）或 rejected（不通过）",
    "bad_on_reject": "“不同意时”只能留空（结束办件）或设为 route（交由流程判断）",
    "decision_field": "用户任务的表单不能有 decision 或 approved 字段：审批结果来自同意/不同意按钮",
    "form_not_published": "表单未发布",
    "form_version_unknown": "用户任务指定的表单版本不存在",
    "unknown_lane": "泳道名称不是已知的部门编码或角色",
    "not_executable": "流程未设为可执行（isExecutable=\"true\"）",
    "ambiguous_process": "无法确定主流程",
    "invalid_bpmn": "流程解析失败",
    "process_id_taken": "该流程 id 已被其他定义发布",
    "no_decision": "DMN 文件中没有决策表",
    "bad_dmn_cell": "DMN 单元格无法编译",
    "invalid_dmn": "DMN 文件无效",
    "too_large": "文件过大",
    "too_many": "文件过多",
    "not_waiting": "流程当前没有在等待该消息",
}
PROBLEM_PREFIXES = {"bad_": "表达式无法编译", "empty_": "表达式为空"}
# a process step's incident (workflows/bpmn/instances.py): the zh text leads, the engine's own detail (an expression's
# error, code-like) follows, since a designer needs it to fix the process
INCIDENTS = {"error": "流程步骤出错", "sandbox": "脚本违反了沙箱规则", "timeout": "脚本运行超时",
             "memory": "脚本占用内存超出限制", "data_limit": "数据超出限制（大小、层级或类型）",
             "exit": "脚本异常退出"}


def translate(text: str) -> tuple[str, str] | None:
    """(code, zh text) for an English field message we know, else None."""
    for pattern, code, zh in _COMPILED:
        match = pattern.match(text)
        if match:
            return code, zh.format(**match.groupdict())
    return None


def problem_zh(code: str) -> str | None:
    if code in PROBLEMS:
        return PROBLEMS[code]
    for prefix, zh in PROBLEM_PREFIXES.items():
        if code.startswith(prefix):
            return zh
    return None


def localize(item: dict, *, lang: str | None = None) -> dict:
    """The item with `message` in the request's language.

    Order: the item's own message_zh/message_en (form validation), a message key of api.i18n, a known
    marshmallow text, a designer problem's code; an unknown English text is left as it is."""
    lang = lang or i18n.language()
    own = item.get("message_en" if lang == "en" else "message_zh")
    if own:
        return {**item, "message": own}
    text = item.get("message")
    if not isinstance(text, str):
        return item
    if text in i18n.MESSAGES:
        return {**item, "message": i18n.message(text, lang=lang)}
    if lang == "en":
        return item
    known = translate(text)
    code = str(item.get("code", ""))
    if known is None and code in INCIDENTS and ("element_id" in item or item.get("path") == "/data"):
        return {**item, "message": f"{INCIDENTS[code]}：{text}"}
    if known is not None:
        return {**item, "message": known[1]}
    zh = problem_zh(code)
    # a designer's problem: the zh text leads and the checker's detail (a limit, an expression) follows
    return {**item, "message": f"{zh}：{text}" if text and text != zh else zh} if zh else item
