"""/api/v1/designer/forms: drafts, validation, publishing, versions, archiving (designers of the owning
department, and admins). Drafts carry an ETag (their version); PUT needs If-Match."""
from __future__ import annotations

import json

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, etag, if_match_version, page_schema, paginate
from api.runtime import settings
from core.errors import Invalid, PayloadTooLarge
from designer import forms_schemas as schemas
from forms import messages, service

blp = Blueprint("designer_forms", __name__, url_prefix="/api/v1/designer/forms",
                description="Designer: forms (drafts, validation, versions)")

i18n.register({
    **messages.i18n_keys(),
    "form.invalid_data": ("表单数据未通过校验", "The form data did not pass validation"),
    "form.schema_invalid": ("表单定义有错误，不能发布", "The form definition has problems and cannot be published"),
    "form.schema_not_object": ("表单定义必须是 JSON 对象", "The form definition must be a JSON object"),
    "form.schema_too_complex": ("表单定义嵌套过深或数组过长", "The form definition nests too deeply or has too long a list"),
    "form.draft_too_large": ("表单定义过大（上限 {limit} 字节）", "The form definition is too large (limit {limit} bytes)"),
    "form.key_taken": ("表单标识已存在", "This form key is taken"),
    "form.archived": ("该表单已归档", "This form is archived"),
    "form.publish_race": ("另一次发布刚刚完成，请重试", "Another publish just finished; try again"),
    "form.not_your_department": ("只能为本部门设计表单", "You can design forms only for your own department"),
    "form.duplicate_key": ("JSON 中有重复的键", "The JSON repeats a key in one object"),
})

DraftPage = page_schema(schemas.DraftSummaryOut, "FormDraftPage")
VersionPage = page_schema(schemas.VersionSummaryOut, "FormVersionPage")
# A version number: out of range is a 404 at routing (a 20-digit one overflowed MongoDB's int64: 500).
NUMBER = "<int(min=1, max=999999999):number>"


def max_draft_bytes() -> int:
    return settings().form_max_draft_bytes


class _Object(dict):
    __slots__ = ("repeated",)


def _pairs(pairs):
    obj = _Object()
    obj.repeated = []
    for key, value in pairs:
        if key in obj:
            obj.repeated.append(key)
        obj[key] = value
    return obj


def _repeated_keys(node, path=()):
    if isinstance(node, _Object):
        for key in node.repeated:
            yield path + (key,)
        for key, value in node.items():
            yield from _repeated_keys(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _repeated_keys(value, path + (i,))


class _KeepRepeatsParser(FlaskParser):
    """Parses a JSON body once, keeping note of keys an object repeats (JSON parsers keep the last one silently,
    so a designer would lose a field without knowing): 422 naming each. Runs after the blueprint's
    authentication, so nobody unauthenticated gets a body parsed."""

    def load_json(self, req, schema):
        if not req.is_json:
            return super().load_json(req, schema)
        try:
            body = json.loads(req.get_data(cache=True), object_pairs_hook=_pairs)
        except ValueError:
            return super().load_json(req, schema)   # the standard 400 invalid_json (or no body at all)
        repeated = list(_repeated_keys(body))[:50]
        if repeated:
            raise Invalid("form.duplicate_key", errors=[{"path": messages.pointer(p), "code": "duplicate_key",
                                                         "message": "form.duplicate_key"} for p in repeated])
        return body


blp.ARGUMENTS_PARSER = _KeepRepeatsParser()


@blp.before_request
def _authenticate_then_refuse_oversized():
    """Writes: 401 before anything else; then 413 for a body far beyond the draft limit, before parsing."""
    if request.method not in ("POST", "PUT"):
        return
    current_actor()
    if request.content_length and request.content_length > max_draft_bytes() + 64 * 1024:
        raise PayloadTooLarge("form.draft_too_large", params={"limit": max_draft_bytes()})


def _if_match_optional() -> int | None:
    return if_match_version() if request.headers.get("If-Match") else None


@blp.route("")
class Drafts(MethodView):
    @blp.arguments(schemas.DraftListArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, DraftPage)
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """List the form drafts you may design"""
        return paginate(service.list_drafts(current_actor(), **filters), page)

    @blp.arguments(schemas.DraftIn)
    @blp.response(201, schemas.DraftOut, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(409, schema=ErrorSchema, description="The key is taken")
    @blp.alt_response(413, schema=ErrorSchema, description="The schema is larger than the draft limit")
    @blp.alt_response(422, schema=ErrorSchema, description="Bad fields, or JSON that repeats a key")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Create a draft {key, title, department, schema} for your department"""
        draft = service.create_draft(current_actor(), **body, max_bytes=max_draft_bytes())
        return draft, 201, {"ETag": etag(draft.version)}


@blp.route("/<key>")
class Draft(MethodView):
    @blp.response(200, schemas.DraftOut, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.doc(security=[BEARER])
    def get(self, key):
        """One draft, with its ETag"""
        draft = service.get_draft(current_actor(), key)
        return draft, 200, {"ETag": etag(draft.version)}

    @blp.arguments(schemas.DraftUpdateIn)
    @blp.response(200, schemas.DraftOut, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(412, schema=ErrorSchema, description="The ETag is stale: someone changed the draft")
    @blp.alt_response(428, schema=ErrorSchema, description="If-Match is missing")
    @blp.alt_response(413, schema=ErrorSchema, description="The schema is larger than the draft limit")
    @blp.doc(security=[BEARER], parameters=[{"in": "header", "name": "If-Match", "required": True,
                                              "schema": {"type": "string"}}])
    def put(self, body, key):
        """Change the draft's title or schema (If-Match: the ETag you read)"""
        actor = current_actor()
        expected = if_match_version(lambda: service.get_draft(actor, key).version)   # "*": any existing draft
        draft = service.update_draft(actor, key, expected, **body, max_bytes=max_draft_bytes())
        return draft, 200, {"ETag": etag(draft.version)}


@blp.route("/<key>/validate")
class DraftValidate(MethodView):
    @blp.arguments(schemas.DraftCheckIn, required=False)   # no body: check the stored draft
    @blp.response(200, schemas.CheckOut)
    @blp.doc(security=[BEARER])
    def post(self, body, key):
        """Check the draft (or an unsaved schema) against the meta-schema and the form language's rules"""
        return service.check_draft(current_actor(), key, body.get("schema"), max_bytes=max_draft_bytes())


@blp.route("/<key>/render")
class DraftRender(MethodView):
    @blp.arguments(schemas.DraftCheckIn, required=False)   # no body: the stored draft
    @blp.response(200, schemas.DraftRenderOut)
    @blp.doc(security=[BEARER])
    def post(self, body, key):
        """The live preview of the draft (or an unsaved schema): its problems and its render model (version 0)"""
        return service.render_draft(current_actor(), key, body.get("schema"), max_bytes=max_draft_bytes())


@blp.route("/<key>/publish")
class DraftPublish(MethodView):
    @blp.response(201, schemas.VersionOut)
    @blp.alt_response(422, schema=ErrorSchema, description="The draft has problems (errors name them)")
    @blp.alt_response(412, schema=ErrorSchema, description="If-Match was sent and is stale")
    @blp.doc(security=[BEARER])
    def post(self, key):
        """Publish the draft as the next immutable version (If-Match optional)"""
        return service.publish(current_actor(), key, _if_match_optional())


@blp.route("/<key>/archive")
class DraftArchive(MethodView):
    @blp.response(200, schemas.DraftOut)
    @blp.doc(security=[BEARER])
    def post(self, key):
        """Archive the form: no more edits, publishing or new applications (If-Match optional)"""
        return service.archive(current_actor(), key, _if_match_optional())


@blp.route("/<key>/versions")
class Versions(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, VersionPage)
    @blp.doc(security=[BEARER])
    def get(self, key, **page):
        """The published versions, newest first, in pages (without their definitions)"""
        return paginate(service.list_versions(current_actor(), key), page)


@blp.route(f"/<key>/versions/{NUMBER}")
class Version(MethodView):
    @blp.response(200, schemas.VersionOut)
    @blp.doc(security=[BEARER])
    def get(self, key, number):
        """One published version"""
        return service.get_version(current_actor(), key, number)
