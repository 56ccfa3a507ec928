"""Refuse JSON bodies that parse in Python but cannot be stored or sent back: unpaired UTF-16 surrogates
(`"\\ud800"` — not Unicode text; MongoDB's UTF-8 encoder fails on them), NaN/Infinity (not JSON; they would
come back in responses clients cannot parse), numbers that overflow a double, and integers beyond 64 bits
(MongoDB cannot store them). Without this each of them ended as a 500 somewhere deep in a service.

Runs before every view; a cheap byte scan keeps ordinary bodies on the fast path.
"""
from __future__ import annotations

import json
import math
import re

from flask import request

from api import i18n
from api.errors import error_response, json_pointer

INT64 = 2 ** 63
MAX_ITEMS = 20
MAX_DEPTH = 500   # JSON nesting levels a body may have (our own walkers recurse over what is accepted)

# Only a body containing one of these can hold a value we refuse; anything else skips the full check.
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|NaN|Infinity|\d{19}|[eE][+-]?\d{3}")

i18n.register({
    "json.invalid_unicode": ("文本中含有无效的 Unicode 字符（不成对的代理项）",
                             "The text holds an invalid Unicode character (an unpaired surrogate)"),
    "json.not_a_number": ("NaN 和 Infinity 不是有效的 JSON 数值", "NaN and Infinity are not JSON numbers"),
    "json.number_out_of_range": ("数值超出范围（整数最多 64 位）",
                                 "The number is out of range (integers up to 64 bits)"),
    "json.too_deep": ("JSON 嵌套层数过多", "The JSON is nested too deeply"),
})


def _depth(value) -> int:
    """How deeply a parsed body nests (without recursion: the body may be just under the parser's limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((item, depth + 1) for item in (node.values() if isinstance(node, dict) else node))
    return deepest


def _bad_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def problems(value, path=()):
    """(JSON pointer, code) for every value of a parsed body we refuse."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _bad_text(key):
                yield json_pointer(path + (key.encode("utf-8", "replace").decode(),)), "invalid_unicode"
            else:
                yield from problems(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from problems(item, path + (i,))
    elif isinstance(value, str):
        if _bad_text(value):
            yield json_pointer(path), "invalid_unicode"
    elif isinstance(value, float):
        if math.isnan(value):
            yield json_pointer(path), "not_a_number"
        elif math.isinf(value):
            yield json_pointer(path), "number_out_of_range"
    elif isinstance(value, int) and not isinstance(value, bool):
        if not -INT64 <= value < INT64:
            yield json_pointer(path), "number_out_of_range"


def _constant(name):
    return float("nan")   # NaN, Infinity, -Infinity: reported as not_a_number below


def refuse_unstorable_json():
    """before_request: 400 for bodies that are not JSON text we can keep, 422 for numbers out of range."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.is_json:
        return None
    raw = request.get_data(cache=True)
    # Python's json gives up (RecursionError, a 500 wherever it is parsed) near 1000 levels; only a body with
    # that many brackets can get there, and counting them runs in C.
    deep = raw and raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    if not raw or not (deep or _SUSPECT.search(raw)):
        return None
    try:
        body = json.loads(raw, parse_constant=_constant)
    except ValueError:
        return None   # not JSON at all: the schema layer answers 400 invalid_json
    except RecursionError:
        return error_response(400, "invalid_json", errors=[
            {"path": "", "code": "too_deep", "message": i18n.message("json.too_deep")}])
    if deep and _depth(body) > MAX_DEPTH:
        return error_response(400, "invalid_json", errors=[
            {"path": "", "code": "too_deep", "message": i18n.message("json.too_deep")}])
    found = []
    for path, code in problems(body):
        found.append({"path": path, "code": code, "message": f"json.{code}"})
        if len(found) >= MAX_ITEMS:
            break
    if not found:
        return None
    for item in found:
        item["message"] = i18n.message(item["message"])
    if any(item["code"] != "number_out_of_range" for item in found):
        return error_response(400, "invalid_json", errors=found)
    return error_response(422, "validation_failed", errors=found)
