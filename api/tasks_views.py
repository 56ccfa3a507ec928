"""/api/v1/tasks: the approver's inbox (待办 / 已办), task detail and actions."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api import i18n
from api.applications_schemas import (ClaimIn, CompleteIn, InboxArgs, ReturnIn, TaskCountsOut, TaskDetailOut,
                                      TaskOut)
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, page_schema, paginate
from workflows.tasks import service

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Approvers: inbox and actions")

i18n.register({
    "task.not_open": ("该任务已办结或已退回", "This task is already done or returned"),
    "task.changed": ("任务已被他人处理或已变化，请刷新", "Someone acted on this task first; reload"),
    "task.claimed_by_other": ("该任务已被他人签收", "Someone else has claimed this task"),
    "task.not_your_task": ("你不能办理该任务", "You may not act on this task"),
    "task.comment_required": ("不同意时必须填写意见", "A comment is required to reject"),
    "task.no_form": ("该任务没有表单，不能提交表单数据", "This task has no form; send no form data"),
    "task.return_needs_items": ("退回补正时请指明需要补正的字段或材料",
                                "Name the fields or materials the applicant must correct"),
    "task.unknown_field": ("表单中没有该字段", "The form has no such field"),
})

Page = page_schema(TaskOut, "TaskPage")


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, args, **page):
        """待办 (`box=todo`, due first or newest first) or 已办 (`box=done`); filter by service or overdue"""
        return paginate(service.inbox(current_actor(), args["box"], service=args["service"],
                                      overdue=args["overdue"], sort=args["sort"]), page)


@blp.route("/counts")
class Counts(MethodView):
    @blp.response(200, TaskCountsOut)
    @blp.doc(security=[BEARER])
    def get(self):
        """Badge numbers: 待办, overdue, 已办"""
        return service.counts(current_actor())


@blp.route("/<task_id>")
class TaskItem(MethodView):
    @blp.response(200, TaskDetailOut)
    @blp.doc(security=[BEARER])
    def get(self, task_id):
        """The task, the application's data (PII masked), attachments, timeline and the task's form"""
        found = service.detail(current_actor(), task_id)
        found["attachments"] = [{"id": a, "content": f"/api/v1/attachments/{a}/content",
                                 "thumbnail": f"/api/v1/attachments/{a}/content?variant=thumbnail"}
                                for a in found["attachments"]]
        return found


@blp.route("/<task_id>/claim")
class Claim(MethodView):
    @blp.arguments(ClaimIn)
    @blp.response(200, TaskOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Someone acted first (stale version)")
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """Claim (签收) a task of your department"""
        return service.claim(current_actor(), task_id, body["version"])


@blp.route("/<task_id>/unclaim")
class Unclaim(MethodView):
    @blp.arguments(ClaimIn)
    @blp.response(200, TaskOut)
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """Give a claimed task back to the department's list"""
        return service.unclaim(current_actor(), task_id, body["version"])


@blp.route("/<task_id>/complete")
class Complete(MethodView):
    @blp.arguments(CompleteIn)
    @blp.response(200, TaskOut)
    @blp.alt_response(403, schema=ErrorSchema, description="Visible to you, but not yours to act on")
    @blp.alt_response(409, schema=ErrorSchema, description="Someone acted first (stale version)")
    @blp.alt_response(422, schema=ErrorSchema, description="Task form data, signature or comment not valid")
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """Approve or reject, with a comment (required to reject), a signature and the task's form data"""
        return service.complete(current_actor(), task_id, body["version"], decision=body["decision"],
                                comment=body["comment"], signature=body["signature"], data=body["data"],
                                documents=body["documents"])


@blp.route("/<task_id>/return")
class Return(MethodView):
    @blp.arguments(ReturnIn)
    @blp.response(200, TaskOut)
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """Return to the applicant for 补正, naming the fields and materials to correct"""
        return service.return_to_applicant(current_actor(), task_id, body["version"], reason=body["reason"],
                                           fields=body["fields_"], materials=body["materials"])
