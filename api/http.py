"""Request helpers shared by the blueprints: the calling Actor, the client address, pagination, ETags."""
from __future__ import annotations

from datetime import datetime, timezone

from bson import ObjectId
from flask import g, request
from marshmallow import Schema, fields, validate

from api.runtime import settings
from core.actor import Actor
from core.errors import DomainError, PreconditionFailed, Unauthorized

BEARER = {"bearerAuth": []}
MAX_PAGES = 100


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"


def current_actor() -> Actor:
    """The authenticated caller, or 401. Looked up once per request."""
    if g.get("actor") is not None:
        return g.actor
    from api.identity.service import authenticate_user

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    g.actor, g.user = authenticate_user(settings(), token.strip())
    return g.actor


def current_profile() -> dict:
    """The caller's verified profile for prefill, from the user document authentication already read."""
    from api.identity.service import profile, user_from_stored

    actor = current_actor()
    return profile(actor, user_from_stored(g.user) if g.get("user") else None)


def client_address() -> str:
    """The caller's address. Behind the one trusted proxy (ZHANGBAN_TRUST_PROXY) it is the X-Forwarded-For entry
    that proxy appended, the last one: earlier entries come from the client and could name any address."""
    if settings().trust_proxy and request.headers.get("X-Forwarded-For"):
        last = request.headers["X-Forwarded-For"].split(",")[-1].strip()
        if last:
            return last
    return request.remote_addr or "unknown"


class PageArgs(Schema):
    """Offset pages, for lists that stay small (departments, drafts, versions): at most 100 pages."""
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGES))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class CursorArgs(Schema):
    """Keyset pages, for lists that grow (audit, users): `after` is the `next` of the page before."""
    after = fields.String(validate=validate.Regexp(r"^[0-9a-f]{24}$", error="the `next` of an earlier page"))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


# Aware datetimes a query or body may name: within these, the conversion to UTC (pymongo does it) cannot
# leave datetime's range (9999-12-31T23:59-14:00 is past year 9999 in UTC, which was a 500).
DATETIME_RANGE = validate.Range(min=datetime(1, 1, 2, tzinfo=timezone.utc),
                                max=datetime(9999, 12, 30, tzinfo=timezone.utc))


def page_schema(item_schema, name: str):
    """A response schema {items, total, page, page_size} around item_schema."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item_schema)), "total": fields.Integer(),
                             "page": fields.Integer(), "page_size": fields.Integer()}, name=name)


def cursor_schema(item_schema, name: str):
    """A response schema {items, next} around item_schema; `next` is null on the last page."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item_schema)),
                             "next": fields.String(allow_none=True)}, name=name)


def keyset_page(queryset, args) -> dict:
    """One page of a queryset ordered newest first by id: each page one index range, no skip, no count."""
    limit = args["limit"]
    if args.get("after"):
        queryset = queryset.filter(id__lt=ObjectId(args["after"]))
    items = list(queryset.order_by("-id").limit(limit + 1))
    return {"items": items[:limit], "next": str(items[limit - 1].id) if len(items) > limit else None}


def paginate(queryset, args, rows=list) -> dict:
    """One page of a queryset and its total. `rows` turns the page's queryset into items (e.g. light records
    instead of Documents for a hot list)."""
    page, size = args["page"], args["page_size"]
    items = rows(queryset.skip((page - 1) * size).limit(size))
    if len(items) < size and (items or page == 1):
        total = (page - 1) * size + len(items)     # a page that is not full is the last one: no count to send
    else:
        total = queryset.count()
    return {"items": items, "total": total, "page": page, "page_size": size}


def etag(version: int) -> str:
    """The ETag of a versioned document (drafts): its integer version, quoted."""
    return f'"{version}"'


def if_match_version(current=None) -> int | None:
    """The version named by If-Match; 428 when it is missing, 412 when it is not one of ours.

    `If-Match: *` matches any existing draft (RFC 9110, 13.1.1): the answer is `current()`, the version the
    draft has now (the caller's look-up answers 404 for no draft), or None without `current` (any version)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise PreconditionRequired()
    if header == "*":
        return current() if current is not None else None
    value = header.removeprefix("W/").strip('"')
    # ASCII digits only ("²".isdigit() is true, int("²") fails); longer is no version of ours (nor an int64)
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise PreconditionFailed()
    return int(value)
