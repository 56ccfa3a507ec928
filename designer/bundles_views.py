"""/api/v1/designer/bundles: 一件事 bundle drafts, validation, publishing, archiving and published versions
(designers of the leading department, and admins). Drafts carry an ETag (their version); PUT needs If-Match."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, etag, if_match_version, page_schema, paginate
from designer import bundles_schemas as schemas
from designer.services_views import NUMBER, localized
from workflows.cases.bundles import service

blp = Blueprint("designer_bundles", __name__, url_prefix="/api/v1/designer/bundles",
                description="Designer: 一件事 bundles — several departments' services in one submission")

i18n.register({
    "bundle.invalid": ("一件事定义有错误，不能发布", "The bundle definition has problems and cannot be published"),
    "bundle.code_taken": ("一件事编码已存在", "This bundle code is taken"),
    "bundle.not_your_department": ("只能为本部门设计一件事", "You can design bundles only for your own department"),
    "bundle.archived": ("该一件事已归档", "This bundle is archived"),
    "bundle.publish_raced": ("一件事刚被他人修改或发布，请刷新后重试",
                             "Someone changed or published the bundle first; reload and try again"),
    "bundle.part_count": ("一件事须包含 2 至 20 个事项", "A bundle holds 2 to 20 services"),
    "bundle.bad_part_key": ("事项键只能含小写字母、数字和下划线", "A part key is 1–32 of a-z, 0-9 and _"),
    "bundle.duplicate_part": ("事项键重复", "Two parts have this key"),
    "bundle.duplicate_service": ("同一事项出现两次", "This service is in the bundle twice"),
    "bundle.unknown_part": ("不是本一件事中的事项键", "Not a part of this bundle"),
    "bundle.dependency_cycle": ("事项之间的前后依赖形成了循环", "The parts' dependencies form a cycle"),
    "bundle.service_not_published": ("该事项不存在、未发布或已归档", "No such current service (unpublished or archived)"),
    "bundle.bad_shared_key": ("共享字段 id 只能含小写字母、数字和下划线", "A shared field id is 1–32 of a-z, 0-9 and _"),
    "bundle.duplicate_shared": ("共享字段 id 重复", "Two shared fields have this id"),
    "bundle.shared_needs_two_parts": ("共享字段须对应至少两个事项", "A shared field maps at least two parts"),
    "bundle.unknown_field": ("该事项的表单没有这个顶层字段", "The part's form has no such top-level field"),
    "bundle.field_shared_twice": ("同一字段被两个共享字段使用", "This field is in two shared fields"),
    "bundle.shared_kind_mismatch": ("共享字段对应的各表单字段类型不一致", "The shared field's form fields differ in kind"),
})

DraftPage = page_schema(schemas.BundleDraftOut, "BundleDraftPage")
VersionPage = page_schema(schemas.BundleVersionOut, "BundleVersionPage")
ETAG = {"ETag": {"schema": {"type": "string"}}}


@blp.route("")
class Drafts(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, DraftPage)
    @blp.doc(security=[BEARER])
    def get(self, **page):
        """List the bundle drafts you may design, last changed first"""
        return paginate(service.list_drafts(current_actor()), page)

    @blp.arguments(schemas.BundleDraftIn)
    @blp.response(201, schemas.BundleDraftOut, headers=ETAG)
    @blp.alt_response(409, schema=ErrorSchema, description="The code is taken")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Create a draft {code, department, name, parts: [{key, service_code, depends_on, on_reject}],
        shared_fields: [{key, label, fields: {part key: field}}]}"""
        draft = service.create_draft(current_actor(), **body)
        return draft, 201, {"ETag": etag(draft.version)}


@blp.route("/<code>")
class Draft(MethodView):
    @blp.response(200, schemas.BundleDraftOut, headers=ETAG)
    @blp.doc(security=[BEARER])
    def get(self, code):
        """One draft, with its ETag"""
        draft = service.get_draft(current_actor(), code)
        return draft, 200, {"ETag": etag(draft.version)}

    @blp.arguments(schemas.BundleDraftUpdateIn)
    @blp.response(200, schemas.BundleDraftOut, headers=ETAG)
    @blp.alt_response(412, schema=ErrorSchema, description="The ETag is stale")
    @blp.doc(security=[BEARER], parameters=[{"in": "header", "name": "If-Match", "required": True,
                                              "schema": {"type": "string"}}])
    def put(self, body, code):
        """Change the fields you send (parts and shared fields are replaced whole)"""
        draft = service.update_draft(current_actor(), code, if_match_version(), **body)
        return draft, 200, {"ETag": etag(draft.version)}


@blp.route("/<code>/validate")
class DraftValidate(MethodView):
    @blp.response(200, schemas.BundleCheckOut)
    @blp.doc(security=[BEARER])
    def post(self, code):
        """Check the draft: every problem by JSON pointer (services, dependencies, shared fields)"""
        return localized(service.validate_draft(current_actor(), code))


@blp.route("/<code>/publish")
class DraftPublish(MethodView):
    @blp.response(201, schemas.BundleVersionOut)
    @blp.alt_response(422, schema=ErrorSchema, description="The draft has problems (errors name them)")
    @blp.doc(security=[BEARER])
    def post(self, code):
        """Publish as the next immutable version, pinning each part's current service version"""
        return service.publish(current_actor(), code,
                               if_match_version() if request.headers.get("If-Match") else None)


@blp.route("/<code>/archive")
class DraftArchive(MethodView):
    @blp.response(200, schemas.BundleDraftOut)
    @blp.doc(security=[BEARER])
    def post(self, code):
        """Archive: out of the catalogue, no new submissions"""
        return service.archive(current_actor(), code)


@blp.route("/<code>/versions")
class Versions(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, VersionPage)
    @blp.doc(security=[BEARER])
    def get(self, code, **page):
        """The published versions, newest first"""
        return paginate(service.list_versions(current_actor(), code), page)


@blp.route(f"/<code>/versions/{NUMBER}")
class Version(MethodView):
    @blp.response(200, schemas.BundleVersionOut)
    @blp.doc(security=[BEARER])
    def get(self, code, number):
        """One published version, read-only"""
        return service.get_draft_version(current_actor(), code, number)
