"""/api/v1/designer/services: service (事项) drafts, validation, publishing, archiving, versions (designers of
the owning department, and admins). Drafts carry an ETag (their version); PUT needs If-Match."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, etag, if_match_version, page_schema, paginate
from designer import services_schemas as schemas
from workflows.cases.catalog import service

blp = Blueprint("designer_services", __name__, url_prefix="/api/v1/designer/services",
                description="Designer: services (事项) — drafts, validation, versions, archiving")

i18n.register({
    "service.invalid": ("事项定义有错误，不能发布", "The service definition has problems and cannot be published"),
    "service.code_taken": ("事项编码已存在", "This service code is taken"),
    "service.not_your_department": ("只能为本部门设计事项", "You can design services only for your own department"),
    "service.archived": ("该事项已归档", "This service is archived"),
    "service.publish_raced": ("事项刚被他人修改或发布，请刷新后重试",
                              "Someone changed or published this service first; reload and try again"),
    "service.form_not_published": ("绑定的表单版本不存在或未发布", "The bound form version does not exist or is not published"),
    "service.form_archived": ("绑定的表单已归档", "The bound form is archived"),
    "service.form_not_your_department": ("只能绑定本部门的表单", "You can bind only your own departments' forms"),
    "service.process_not_published": ("绑定的流程版本不存在或未发布",
                                      "The bound process version does not exist or is not published"),
    "service.process_not_your_department": ("只能绑定本部门的流程", "You can bind only your own departments' processes"),
    "service.unknown_field": ("材料指向的字段不在该表单版本中", "The material names a field the form version does not have"),
    "service.field_not_attachment": ("材料要求上传文件，但该字段不是上传字段",
                                     "The material is an upload, but the field does not hold files"),
    "service.bad_attachment_kind": ("材料的文件类型无效", "Not a valid attachment kind"),
    "service.duplicate_material": ("材料名称重复", "Two materials have this name"),
    "service.material_not_online": ("全程网办的必需材料须指定表单字段或上传类型",
                                    "A required material of an online service needs a form field or an upload kind"),
    "service.no_region": ("请至少指定一个可办理的行政区划", "Name at least one region where it may be applied for"),
    "service.bad_region": ("不是有效的 6 位行政区划代码（GB/T 2260）", "Not a 6-digit GB/T 2260 region code"),
    "service.duplicate_region": ("行政区划重复", "This region is listed twice"),
    "service.decision_not_found": ("该流程版本的 DMN 中没有这个决策", "The process version's DMN has no such decision"),
    "service.over_statutory_limit": ("承诺时限不能超过法定时限", "The committed time limit exceeds the statutory limit"),
})

DraftPage = page_schema(schemas.ServiceDraftOut, "ServiceDraftPage")
VersionPage = page_schema(schemas.ServiceVersionOut, "ServiceVersionPage")
ETAG = {"ETag": {"schema": {"type": "string"}}}
# A version number: out of range is a 404 at routing (a 20-digit one overflowed MongoDB's int64: 500).
NUMBER = "<int(min=1, max=999999999):number>"


def _if_match_optional() -> int | None:
    return if_match_version() if request.headers.get("If-Match") else None


def localized(result: dict) -> dict:
    """The check result's problem messages in the caller's language."""
    return {**result, "errors": [{**e, "message": i18n.message(e["message"])} for e in result["errors"]]}


@blp.route("")
class Drafts(MethodView):
    @blp.arguments(schemas.ServiceDraftListArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, DraftPage)
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """List the service drafts you may design, last changed first"""
        return paginate(service.list_drafts(current_actor(), **filters), page)

    @blp.arguments(schemas.ServiceDraftIn)
    @blp.response(201, schemas.ServiceDraftOut, headers=ETAG)
    @blp.alt_response(409, schema=ErrorSchema, description="The code is taken")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Create a draft {code, department, name, form_key, form_version, process_key, process_version, …}"""
        draft = service.create_draft(current_actor(), **body)
        return draft, 201, {"ETag": etag(draft.version)}


@blp.route("/<code>")
class Draft(MethodView):
    @blp.response(200, schemas.ServiceDraftOut, headers=ETAG)
    @blp.doc(security=[BEARER])
    def get(self, code):
        """One draft, with its ETag"""
        draft = service.get_draft(current_actor(), code)
        return draft, 200, {"ETag": etag(draft.version)}

    @blp.arguments(schemas.ServiceDraftUpdateIn)
    @blp.response(200, schemas.ServiceDraftOut, headers=ETAG)
    @blp.alt_response(412, schema=ErrorSchema, description="The ETag is stale: someone changed the draft")
    @blp.alt_response(428, schema=ErrorSchema, description="If-Match is missing")
    @blp.doc(security=[BEARER], parameters=[{"in": "header", "name": "If-Match", "required": True,
                                              "schema": {"type": "string"}}])
    def put(self, body, code):
        """Change the fields you send (materials and regions are replaced whole; If-Match: the ETag you read)"""
        draft = service.update_draft(current_actor(), code, if_match_version(), **body)
        return draft, 200, {"ETag": etag(draft.version)}


@blp.route("/<code>/validate")
class DraftValidate(MethodView):
    @blp.response(200, schemas.ServiceCheckOut)
    @blp.doc(security=[BEARER])
    def post(self, code):
        """Check the draft: every problem with its JSON pointer (bindings, materials, regions, time limits)"""
        return localized(service.validate_draft(current_actor(), code))


@blp.route("/<code>/publish")
class DraftPublish(MethodView):
    @blp.response(201, schemas.ServiceVersionOut)
    @blp.alt_response(422, schema=ErrorSchema, description="The draft has problems (errors name them)")
    @blp.alt_response(412, schema=ErrorSchema, description="If-Match was sent and is stale")
    @blp.doc(security=[BEARER])
    def post(self, code):
        """Publish the draft as the next immutable version; it becomes the one residents see (If-Match optional)"""
        return service.publish(current_actor(), code, _if_match_optional())


@blp.route("/<code>/archive")
class DraftArchive(MethodView):
    @blp.response(200, schemas.ServiceDraftOut)
    @blp.alt_response(412, schema=ErrorSchema, description="If-Match was sent and is stale")
    @blp.doc(security=[BEARER])
    def post(self, code):
        """Archive: out of the catalogue, no new applications, no more edits (If-Match optional)"""
        return service.archive(current_actor(), code, _if_match_optional())


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
    @blp.response(200, schemas.ServiceVersionOut)
    @blp.doc(security=[BEARER])
    def get(self, code, number):
        """One published version"""
        return service.get_draft_version(current_actor(), code, number)
