"""Domain error types. Domain rooms raise these; the delivery rooms turn them into the one error shape.

Each carries a stable `code` (the `message_key` picks the human message, in zh-CN or en, at the edge) and
optional `errors`: a list of {path, code, message} naming fields (JSON pointers) or BPMN element ids.
"""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message_key: str | None = None, *, errors=None, params=None, detail: str | None = None):
        super().__init__(message_key or self.code)
        self.message_key = message_key or self.code
        self.errors = errors or []
        self.params = params or {}
        self.detail = detail


class Invalid(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message_key=None, *, retry_after: int = 1, **kw):
        super().__init__(message_key, **kw)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A backing service (MongoDB, the object store) cannot be reached."""
    status = 503
    code = "unavailable"


class UpstreamError(DomainError):
    """An external service (WeChat) answered with an error or not at all."""
    status = 502
    code = "upstream_error"


class PayloadTooLarge(DomainError):
    """An upload or a draft over its configured limit."""
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """Content whose sniffed type is not accepted."""
    status = 415
    code = "unsupported_media_type"
