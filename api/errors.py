"""The one error shape: {"code", "message", "errors", "request_id"} for every 4xx and 5xx.

Domain errors, flask-smorest/webargs validation errors, werkzeug HTTP errors (404, 405, 413 …), database and
object-store outages and unhandled exceptions all end here. Unhandled errors are logged with the request id;
a body never carries a stack trace.
"""
from __future__ import annotations

import logging

from flask import g, jsonify
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError, NetworkTimeout
from marshmallow import INCLUDE, Schema, fields, pre_dump
from werkzeug.exceptions import HTTPException

from api import field_messages, i18n
from core.errors import DomainError, TooManyRequests

log = logging.getLogger("zhangban.errors")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 412: "precondition_failed", 413: "payload_too_large",
              414: "uri_too_long", 415: "unsupported_media_type", 422: "validation_failed", 428: "precondition_required",
              429: "too_many_requests", 431: "headers_too_large", 501: "not_implemented", 503: "unavailable"}


class ErrorItem(Schema):
    class Meta:
        # Items may carry more detail (line/column of a BPMN error, accepted types, message_zh/message_en):
        # the document says so (additionalProperties: true) instead of promising a closed object.
        unknown = INCLUDE

    path = fields.String(metadata={"description": "JSON pointer of the field, or a BPMN element id"})
    code = fields.String()
    message = fields.String()
    location = fields.String(metadata={"description": "where a request parameter was: query, headers, "
                                                      "multipart … (absent for the JSON body)"})

    @pre_dump
    def _in_callers_language(self, item, **kwargs):
        # problems a designer's check returns (200) speak the caller's language like error answers do
        return field_messages.localize(item) if isinstance(item, dict) else item


class ErrorSchema(Schema):
    """The one error shape of every 4xx and 5xx (docs/errors.md)."""
    code = fields.String(required=True, metadata={"description": "stable error code"})
    message = fields.String(required=True, metadata={"description": "in zh-CN or en, by Accept-Language"})
    errors = fields.List(fields.Nested(ErrorItem), required=True)
    request_id = fields.String(required=True)


def error_response(status: int, code: str, *, errors=None, params=None, message_key=None, headers=None):
    body = {"code": code, "message": i18n.message(message_key or code, params), "errors": errors or [],
            "request_id": g.get("request_id")}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_pointer(parts) -> str:
    """RFC 6901: "/a/0/b~1c" for ("a", 0, "b/c"); "" for the whole document."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts) if parts else ""


def _flatten(messages, path=()):
    """webargs' nested {location: {field: [msg]}} → [{path, code, message}] with JSON pointers."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, path + (key,))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for text in messages:
            yield path, text
    elif isinstance(messages, list):
        for value in messages:
            yield from _flatten(value, path)
    else:
        yield path, str(messages)


def _validation_errors(exc: HTTPException):
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    errors = []
    for path, text in _flatten(messages):
        location, *field = path or ("json",)
        field = [p for p in field if p != "_schema"]
        if location == "json" and not field and "json" in text.lower() and "invalid" in text.lower():
            return "invalid_json", [field_messages.localize({"path": "", "code": "invalid_json", "message": text})]
        errors.append(field_messages.localize({"path": json_pointer(field), "code": "invalid", "message": text,
                                               **({"location": location} if location != "json" else {})}))
    return "validation_failed", errors


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    if status in (400, 422) and getattr(exc, "data", None):
        code, errors = _validation_errors(exc)
        return error_response(400 if code == "invalid_json" else 422, code, errors=errors)
    code = HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, code, headers=headers)


def handle_domain_error(exc: DomainError):
    headers = {}
    params = dict(exc.params)
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
        params.setdefault("retry_after", exc.retry_after)
    if exc.status == 503:   # an object store or WeChat outage says when to come back, as a database outage does
        headers.setdefault("Retry-After", "5")
    if exc.status >= 500:
        log.warning("%s: %s", exc.message_key, exc.detail or "")
    errors = [field_messages.localize(item) for item in exc.errors]
    return error_response(exc.status, exc.code, errors=errors, params=params, message_key=exc.message_key,
                          headers=headers)


def handle_database_down(exc):
    log.error("database unavailable: %s", type(exc).__name__)
    return error_response(503, "unavailable", message_key="database.unavailable", headers={"Retry-After": "5"})


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error")
    return error_response(500, "internal_error")


def register(app):
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    for exc_type in (ConnectionFailure, ServerSelectionTimeoutError, NetworkTimeout):
        app.register_error_handler(exc_type, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)
