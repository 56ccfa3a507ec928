"""/api/v1/designer/processes: BPMN drafts, validation with element ids, publishing, versions and test runs
(designers of the owning department, and admins). Drafts carry an ETag (their version); PUT needs If-Match."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, etag, if_match_version, page_schema, paginate
from api.identity.models import Department
from core.actor import ROLES
from designer import process_schemas as schemas
from workflows.bpmn import breaker, service, test_runs

blp = Blueprint("designer_processes", __name__, url_prefix="/api/v1/designer/processes",
                description="Designer: BPMN processes and test runs")

i18n.register({
    "process.invalid": ("流程定义有错误，不能发布", "The process definition has problems and cannot be published"),
    "process.key_taken": ("流程标识已存在", "This process key is taken"),
    "process.not_your_department": ("只能为本部门设计流程", "You can design processes only for your own department"),
    "process.too_large": ("流程文件过大", "The process files are too large"),
    "process.not_dmn": ("DMN 文件不是 DMN 1.x 格式", "A DMN file is not a DMN 1.x document"),
    "process.publish_raced": ("另一次发布刚刚完成，请重试", "Another publish just finished; try again"),
    "workflow.incident": ("流程运行出错，已记录为异常", "The process failed at a step; an incident was recorded"),
    "workflow.incident_hidden": ("流程环节出错，详情已记录并通知流程设计人员",
                                 "A step of the process failed; the details were recorded for its designers"),
    "workflow.instance_changed": ("流程已被他人推进，请刷新后重试", "Someone moved the process on first; reload"),
    "workflow.instance_ended": ("流程已结束或已取消，不能再办理", "The process has ended or was cancelled; nothing more can be done"),
    "workflow.task_not_ready": ("该任务不是待办状态", "This task is not waiting to be done"),
    "workflow.data_too_large": ("数据过大或嵌套过深", "The data is too large or nested too deeply"),
    "workflow.definition_too_large": ("流程定义过大，无法启动", "The process definition is too large to start"),
    "workflow.not_waiting_for_message": ("流程没有在等待该消息", "The process is not waiting for this message"),
    "engine.too_many_actions": ("同时运行的流程测试过多（每个账号最多 {limit} 个），请稍后重试",
                                "Too many engine actions at once for this account (at most {limit}); try again"),
    "engine.cpu_budget": ("本账号一分钟内的流程运行时间已用完，请在 {retry_after} 秒后重试",
                          "This account used its engine CPU for the minute; try again in {retry_after} seconds"),
})
BUDGET = "The account runs its limit of engine actions, or spent its engine CPU for the minute (see Retry-After)"

DraftPage = page_schema(schemas.ProcessDraftSummaryOut, "ProcessDraftPage")
VersionPage = page_schema(schemas.ProcessVersionSummaryOut, "ProcessVersionPage")
ETAG = {"ETag": {"schema": {"type": "string"}}}
# A version number: out of range is a 404 at routing (a 20-digit one overflowed MongoDB's int64: 500).
NUMBER = "<int(min=1, max=999999999):number>"


def known_lanes() -> set[str]:
    """Lanes name department codes or role names; identity stays here, the domain gets plain values."""
    return set(Department.objects.distinct("code")) | set(ROLES)


def _if_match_optional() -> int | None:
    return if_match_version() if request.headers.get("If-Match") else None


@blp.route("")
class Drafts(MethodView):
    @blp.arguments(schemas.ProcessDraftListArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, DraftPage)
    @blp.doc(security=[BEARER])
    def get(self, filters, **page):
        """List the process drafts you may design"""
        return paginate(service.list_drafts(current_actor(), **filters), page)

    @blp.arguments(schemas.ProcessDraftIn)
    @blp.response(201, schemas.ProcessDraftOut, headers=ETAG)
    @blp.alt_response(409, schema=ErrorSchema, description="The key is taken")
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Upload a draft {key, name, department, bpmn_xml, dmn: [{name, xml}]} for your department"""
        draft = service.create_draft(current_actor(), **body)
        return draft, 201, {"ETag": etag(draft.version)}


@blp.route("/<key>")
class Draft(MethodView):
    @blp.response(200, schemas.ProcessDraftOut, headers=ETAG)
    @blp.doc(security=[BEARER])
    def get(self, key):
        """One draft with its BPMN and DMN XML, and its ETag"""
        draft = service.get_draft(current_actor(), key)
        return draft, 200, {"ETag": etag(draft.version)}

    @blp.arguments(schemas.ProcessDraftUpdateIn)
    @blp.response(200, schemas.ProcessDraftOut, headers=ETAG)
    @blp.alt_response(412, schema=ErrorSchema, description="The ETag is stale: someone changed the draft")
    @blp.alt_response(428, schema=ErrorSchema, description="If-Match is missing")
    @blp.doc(security=[BEARER], parameters=[{"in": "header", "name": "If-Match", "required": True,
                                              "schema": {"type": "string"}}])
    def put(self, body, key):
        """Change the draft's name, BPMN or DMN (If-Match: the ETag you read)"""
        actor = current_actor()
        expected = if_match_version(lambda: service.get_draft(actor, key).version)   # "*": any existing draft
        draft = service.update_draft(actor, key, expected, **body)
        return draft, 200, {"ETag": etag(draft.version)}


@blp.route("/<key>/validate")
class DraftValidate(MethodView):
    @blp.arguments(schemas.ProcessDraftCheckIn, required=False)   # no body: check the stored draft
    @blp.response(200, schemas.ProcessCheckOut)
    @blp.doc(security=[BEARER])
    def post(self, body, key):
        """Check the draft (or unsaved XML): every problem with its BPMN element id, or line and column"""
        return service.validate_draft(current_actor(), key, known_lanes=known_lanes(), **body)


@blp.route("/<key>/publish")
class DraftPublish(MethodView):
    @blp.response(201, schemas.ProcessVersionOut)
    @blp.alt_response(422, schema=ErrorSchema, description="The draft has problems (errors name the elements)")
    @blp.alt_response(412, schema=ErrorSchema, description="If-Match was sent and is stale")
    @blp.doc(security=[BEARER])
    def post(self, key):
        """Publish the draft as the next immutable version, its spec serialized once (If-Match optional)"""
        return service.publish(current_actor(), key, known_lanes=known_lanes(),
                               expected_version=_if_match_optional())


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
    @blp.response(200, schemas.ProcessVersionOut)
    @blp.doc(security=[BEARER])
    def get(self, key, number):
        """One published version"""
        return service.get_version(current_actor(), key, number)


@blp.route(f"/<key>/versions/{NUMBER}/test-runs")
class TestRuns(MethodView):
    @blp.arguments(schemas.TestRunIn, required=False)
    @blp.response(201, schemas.TestRunOut)
    @blp.alt_response(429, schema=ErrorSchema, description=BUDGET)
    @blp.doc(security=[BEARER])
    def post(self, body, key, number):
        """Start a test run with start data; it runs to its first wait (purged after a day)"""
        return test_runs.start_test_run(current_actor(), key, number, body["data"])


@blp.route(f"/<key>/versions/{NUMBER}/test-runs/<run_id>")
class TestRun(MethodView):
    @blp.response(200, schemas.TestRunOut)
    @blp.doc(security=[BEARER])
    def get(self, key, number, run_id):
        """The test run: ready tasks (lane, form, data, due time), the path taken, incidents"""
        return test_runs.get_test_run(current_actor(), key, number, run_id)


@blp.route(f"/<key>/versions/{NUMBER}/test-runs/<run_id>/tasks/<task_id>/complete")
class TestRunComplete(MethodView):
    @blp.arguments(schemas.TaskCompleteIn, required=False)
    @blp.response(200, schemas.TestRunOut)
    @blp.alt_response(429, schema=ErrorSchema, description=BUDGET)
    @blp.alt_response(422, schema=ErrorSchema, description="The process failed at a step (an incident)")
    @blp.doc(security=[BEARER])
    def post(self, body, key, number, run_id, task_id):
        """Complete a ready user task with form data and 同意 or 不同意, and run on to the next wait"""
        return test_runs.complete_test_task(current_actor(), key, number, run_id, task_id, body["data"],
                                            body.get("version"), decision=body.get("decision", "approve"))


@blp.route(f"/<key>/versions/{NUMBER}/test-runs/<run_id>/messages")
class TestRunMessage(MethodView):
    @blp.arguments(schemas.ProcessMessageIn)
    @blp.response(200, schemas.TestRunOut)
    @blp.alt_response(429, schema=ErrorSchema, description=BUDGET)
    @blp.doc(security=[BEARER])
    def post(self, body, key, number, run_id):
        """Deliver a message the test run waits for (its payload lands in the messageVariable)"""
        return test_runs.message_test_run(current_actor(), key, number, run_id, body["name"], body["payload"])


@blp.route(f"/<key>/versions/{NUMBER}/test-runs/<run_id>/timers")
class TestRunTimers(MethodView):
    @blp.arguments(schemas.TimersIn, required=False)
    @blp.response(200, schemas.TestRunOut)
    @blp.alt_response(429, schema=ErrorSchema, description=BUDGET)
    @blp.doc(security=[BEARER])
    def post(self, body, key, number, run_id):
        """Fire the timers due by `at` (default now)"""
        return test_runs.timers_test_run(current_actor(), key, number, run_id, body.get("at"))


@blp.route(f"/<key>/versions/{NUMBER}/breaker")
class VersionBreaker(MethodView):
    @blp.response(200, schemas.BreakerOut)
    @blp.doc(security=[BEARER])
    def get(self, key, number):
        """The version's CPU and step limit hits in live use; open: submissions to it are refused (503)"""
        return breaker.breaker(current_actor(), key, number)


@blp.route(f"/<key>/versions/{NUMBER}/breaker/close")
class VersionBreakerClose(MethodView):
    @blp.response(200, schemas.BreakerOut)
    @blp.alt_response(403, schema=ErrorSchema, description="Only an admin re-enables a suspended version")
    @blp.doc(security=[BEARER])
    def post(self, key, number):
        """Admins: take submissions to the version again (the hits so far no longer count)"""
        return breaker.close(current_actor(), key, number)
