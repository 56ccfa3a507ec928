"""/api/v1/tasks: the approver's inbox (待办 / 已办), task detail and actions."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import i18n
from api.applications_schemas import (AddSignerIn, BatchIn, BatchOut, CarbonCopyIn, CarbonCopyOut, ClaimIn,
                                      CompleteIn, CopyArgs, CopyDetailOut, HandOverIn, InboxArgs, ReturnIn,
                                      ReturnTargetOut, ReturnToStepIn, TaskCountsOut, TaskDetailOut, TaskOut, VERSION)
from api.errors import ErrorSchema
from api.http import BEARER, PageArgs, current_actor, page_schema, paginate
from api.identity.service import staff_actor
from workflows.cases.tasks import actions, copies, countersign, service, signers

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Approvers: inbox and actions")

i18n.register({
    "task.not_open": ("该任务已办结或已退回", "This task is already done or returned"),
    "task.changed": ("任务已被他人处理或已变化，请刷新", "Someone acted on this task first; reload"),
    "task.claimed_by_other": ("该任务已被他人签收", "Someone else has claimed this task"),
    "task.not_your_task": ("你不能办理该任务", "You may not act on this task"),
    "task.incident_resolved": ("该异常已被他人处理", "Someone retried or ended this incident first"),
    "task.picked_signer": ("你是被指定的会签人，不能退回公共待办", "You were picked to countersign: the task cannot go back to the pool"),
    "task.comment_required": ("不同意时必须填写意见", "A comment is required to reject"),
    "task.no_form": ("该任务没有表单，不能提交表单数据", "This task has no form; send no form data"),
    "task.return_needs_items": ("退回补正时请指明需要补正的字段或材料",
                                "Name the fields or materials the applicant must correct"),
    "task.unknown_field": ("表单中没有该字段", "The form has no such field"),
    "task.target_not_allowed": ("对方不是该环节所属部门的审批人", "That person is not an approver of this step's department"),
    "task.target_is_you": ("不能转给自己", "You cannot hand a task to yourself"),
    "user.no_such_staff": ("没有该工作人员", "No such staff member"),
    "workflow.not_an_earlier_step": ("只能退回到已办理过的环节", "Only a step already done can be returned to"),
    "application.urge_too_often": ("每天只能催办一次", "You can urge once a day"),
    "task.nobody_to_copy": ("请指定抄送人或部门", "Name the people or the department to copy"),
    "task.cc_not_allowed": ("只有当前可办理该任务的审批人可以抄送", "Only an approver who may act on this task now may copy it"),
    "task.cc_case_closed": ("办件已办结或已撤回，不能再抄送", "The case has ended or was withdrawn: it cannot be copied"),
    "task.cc_target_not_allowed": ("只能抄送给办件涉及部门及其上级部门的工作人员",
                                   "Copies go only to staff of the case's departments or their parent departments"),
    "task.copy_ended": ("抄送的查阅期限已过或办件已办结", "This copy can no longer be read: it expired or the case ended"),
    "task.recusal": ("你是该办件的申请人或代办人，需回避，不能办理", "You applied for this case or submitted it as a helper: "
                                                             "recuse yourself, a colleague will handle it"),
    "task.not_a_countersign": ("该任务不是会签中的一人，不能减签", "This task is not one signer of a countersign"),
    "task.last_signer": ("会签至少要保留一人，不能再减签", "A countersign keeps at least one signer"),
    "task.no_signers_to_pick": ("该环节不需要选择会签人", "This step does not pick countersigners"),
    "task.signers_count": ("会签人数不在流程规定的范围内", "The number of countersigners is outside the process's bounds"),
    "task.signers_repeated": ("会签人不能重复", "A countersigner is named twice"),
    "task.countersign_declared_wrongly": ("流程中的会签设置有误", "The process declares its countersign wrongly"),
})


class CompletePickingIn(CompleteIn):
    signers = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=None,
                          validate=validate.Length(max=signers.MAX_SIGNERS),
                          metadata={"description": "user ids: the countersigners this approval hands the case to, "
                                                   "where the process asks this step to pick them"})


class RemoveSignerIn(Schema):
    version = VERSION
    comment = fields.String(load_default="", validate=validate.Length(max=2000))

CopyPage = page_schema(CarbonCopyOut, "CarbonCopyPage")


def _links(ids):
    return [{"id": a, "content": f"/api/v1/attachments/{a}/content",
             "thumbnail": f"/api/v1/attachments/{a}/content?variant=thumbnail"} for a in ids]

class Page(page_schema(TaskOut, "TaskPageBase")):
    total_capped = fields.Boolean(metadata={"description": "`total` counts only the rows read so far: more may "
                                                           "follow"})


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, Page)
    @blp.doc(security=[BEARER])
    def get(self, args, **page):
        """待办 (`box=todo`, due first or newest first) or 已办 (`box=done`); filter by service or overdue; or the
        caller's 待办 rows of one case (`application`: its id or number). `total` is every row when `total_capped`
        is false; when true, more may follow (the list is never counted whole)."""
        actor = current_actor()
        if args["application"]:
            items = service.of_application(actor, args["application"])
            return {"items": items, "total": len(items), "total_capped": False, "page": 1,
                    "page_size": page["page_size"]}
        return service.inbox_page(actor, args["box"], page=page["page"], page_size=page["page_size"],
                                  service=args["service"], overdue=args["overdue"], sort=args["sort"])


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
        found["attachments"] = _links(found["attachments"])
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
    @blp.arguments(CompletePickingIn)
    @blp.response(200, TaskOut)
    @blp.alt_response(403, schema=ErrorSchema, description="Visible to you, but not yours to act on")
    @blp.alt_response(409, schema=ErrorSchema, description="Someone acted first (stale version)")
    @blp.alt_response(422, schema=ErrorSchema, description="Task form data, signature or comment not valid")
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """Approve or reject, with a comment (required to reject), a signature and the task's form data"""
        return service.complete(current_actor(), task_id, body["version"], decision=body["decision"],
                                comment=body["comment"], signature=body["signature"], data=body["data"],
                                documents=body["documents"], signers=body["signers"])


@blp.route("/<task_id>/remove-signer")
class RemoveSigner(MethodView):
    @blp.arguments(RemoveSignerIn)
    @blp.response(200, TaskOut)
    @blp.alt_response(409, schema=ErrorSchema, description="The signer has acted, or the version is stale")
    @blp.alt_response(422, schema=ErrorSchema, description="Not a countersign, or its last signer")
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """减签: take a countersigner who has not acted out; the countersign completes by its rule over the rest"""
        return countersign.remove_signer(current_actor(), task_id, body["version"], comment=body["comment"])


@blp.route("/<task_id>/return")
class Return(MethodView):
    @blp.arguments(ReturnIn)
    @blp.response(200, TaskOut)
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """Return to the applicant for 补正, naming the fields and materials to correct"""
        return service.return_to_applicant(current_actor(), task_id, body["version"], reason=body["reason"],
                                           fields=body["fields_"], materials=body["materials"])


@blp.route("/<task_id>/transfer")
class Transfer(MethodView):
    @blp.arguments(HandOverIn)
    @blp.response(200, TaskOut)
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """转办: hand the task to another approver of its department, for good"""
        return actions.transfer(current_actor(), task_id, body["version"], staff_actor(body["user_id"]),
                                comment=body["comment"])


@blp.route("/<task_id>/delegate")
class Delegate(MethodView):
    @blp.arguments(HandOverIn)
    @blp.response(200, TaskOut)
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """委派: a colleague works on it (their `complete` records an opinion) and it comes back to you"""
        return actions.delegate(current_actor(), task_id, body["version"], staff_actor(body["user_id"]),
                                comment=body["comment"])


@blp.route("/<task_id>/add-signer")
class AddSigner(MethodView):
    @blp.arguments(AddSignerIn)
    @blp.response(200, TaskOut)
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """加签: another approver signs before you (then it comes back) or after you (and decides)"""
        return actions.add_signer(current_actor(), task_id, body["version"], staff_actor(body["user_id"]),
                                  position=body["position"], comment=body["comment"], decision=body["decision"])


@blp.route("/<task_id>/return-targets")
class ReturnTargets(MethodView):
    @blp.response(200, ReturnTargetOut(many=True))
    @blp.doc(security=[BEARER])
    def get(self, task_id):
        """The earlier steps this case may be sent back to"""
        return actions.return_targets(current_actor(), task_id)


@blp.route("/<task_id>/return-to")
class ReturnToStep(MethodView):
    @blp.arguments(ReturnToStepIn)
    @blp.response(200, TaskOut)
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """退回: send the case back to an earlier completed step (it waits there again)"""
        return actions.return_to_step(current_actor(), task_id, body["version"], element_id=body["element_id"],
                                      comment=body["comment"])


@blp.route("/<task_id>/cc")
class Copy(MethodView):
    @blp.arguments(CarbonCopyIn)
    @blp.response(200, description="How many people were newly copied: {copied}")
    @blp.alt_response(403, schema=ErrorSchema, description="Not yours to act on now (`task.cc_not_allowed`, "
                                                            "`task.recusal`)")
    @blp.alt_response(409, schema=ErrorSchema, description="The case has ended or was withdrawn (`task.cc_case_closed`)")
    @blp.alt_response(422, schema=ErrorSchema, description="A target outside the case's departments and their parents")
    @blp.doc(security=[BEARER])
    def post(self, body, task_id):
        """抄送: give staff of the case's departments or their parents (or such a department's approvers) read
        access while the case is open (at most ZHANGBAN_CC_DAYS days), listed in their 抄送 list"""
        targets = [staff_actor(u, f"/user_ids/{i}") for i, u in enumerate(body["user_ids"])]
        return {"copied": copies.carbon_copy(current_actor(), task_id, targets, department_id=body["department_id"],
                                             comment=body["comment"])}


@blp.route("/copies")
class Copies(MethodView):
    @blp.arguments(CopyArgs, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, CopyPage)
    @blp.doc(security=[BEARER])
    def get(self, args, **page):
        """抄送我的 (newest first; `unread=true` for the unread ones)"""
        return paginate(copies.copies(current_actor(), unread=args["unread"]), page)


@blp.route("/copies/<copy_id>")
class CopyItem(MethodView):
    @blp.response(200, CopyDetailOut)
    @blp.doc(security=[BEARER])
    def get(self, copy_id):
        """A copied application (PII masked) while the copy may be read (404 `task.copy_ended` after); marks it
        read. Its files: thumbnails; the full file needs `reason` (audited)."""
        found = copies.read_copy(current_actor(), copy_id)
        found["attachments"] = _links(found["attachments"])
        return found


@blp.route("/batch-complete")
class BatchComplete(MethodView):
    @blp.arguments(BatchIn)
    @blp.response(200, BatchOut)
    @blp.doc(security=[BEARER])
    def post(self, body):
        """Approve (or reject) several tasks; each is checked and written on its own, and each outcome listed"""
        results = actions.batch_complete(current_actor(), body["items"], decision=body["decision"],
                                         comment=body["comment"])
        for item in results:
            key = item.pop("message_key", None)
            item["message"] = i18n.message(key or "ok") if key else ""
        return {"results": results}
