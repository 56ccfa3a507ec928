"""Storage's own error types: the two HTTP statuses the core kernel has no class for."""
from __future__ import annotations

from core.errors import DomainError


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
