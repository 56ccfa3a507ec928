"""Request helpers shared by the blueprints: the calling Actor, the client address, pagination, ETags."""
from __future__ import annotations

from flask import g, request
from marshmallow import Schema, fields, validate

from api.runtime import settings
from core.actor import Actor
from core.errors import DomainError, PreconditionFailed, Unauthorized

BEARER = {"bearerAuth": []}


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"


def current_actor() -> Actor:
    """The authenticated caller, or 401. Looked up once per request."""
    if g.get("actor") is not None:
        return g.actor
    from api.identity.service import authenticate

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    g.actor = authenticate(settings(), token.strip())
    return g.actor


def client_address() -> str:
    """The caller's address. Behind the one trusted proxy (ZHANGBAN_TRUST_PROXY) it is the X-Forwarded-For entry
    that proxy appended, the last one: earlier entries come from the client and could name any address."""
    if settings().trust_proxy and request.headers.get("X-Forwarded-For"):
        last = request.headers["X-Forwarded-For"].split(",")[-1].strip()
        if last:
            return last
    return request.remote_addr or "unknown"


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_schema(item_schema, name: str):
    """A response schema {items, total, page, page_size} around item_schema."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item_schema)), "total": fields.Integer(),
                             "page": fields.Integer(), "page_size": fields.Integer()}, name=name)


def paginate(queryset, args) -> dict:
    page, size = args["page"], args["page_size"]
    return {"items": list(queryset.skip((page - 1) * size).limit(size)), "total": queryset.count(),
            "page": page, "page_size": size}


def etag(version: int) -> str:
    """The ETag of a versioned document (drafts): its integer version, quoted."""
    return f'"{version}"'


def if_match_version() -> int:
    """The version named by If-Match; 428 when it is missing, 412 when it is not one of ours."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise PreconditionRequired()
    value = header.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed()
    return int(value)
