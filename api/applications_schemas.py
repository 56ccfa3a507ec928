"""Schemas of /api/v1/applications (residents) and /api/v1/tasks (approvers)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

VERSION = fields.Integer(required=True, validate=validate.Range(min=1, max=2 ** 62),
                         metadata={"description": "the version you last read (409 if someone acted since)"})
ID = validate.Length(min=1, max=64)


class ApplicationIn(Schema):
    service_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    data = fields.Dict(load_default=dict, metadata={"description": "the form's data (partial for a draft)"})
    submit = fields.Boolean(load_default=False, metadata={"description": "submit now; false saves a draft"})


class ApplicationDraftIn(Schema):
    data = fields.Dict(required=True)
    version = VERSION


class VersionIn(Schema):
    version = VERSION


class WithdrawIn(Schema):
    version = VERSION
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class SupplementIn(Schema):
    version = VERSION
    data = fields.Dict(required=True, metadata={"description": "the whole form data; only asked fields may differ"})


class ListArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ("draft", "submitted", "returned", "approved", "rejected", "withdrawn")))


class StepOut(Schema):
    task_id = fields.String()
    element_id = fields.String()
    name = fields.String()
    department = fields.String()
    due_at = fields.DateTime(allow_none=True)


class EventOut(Schema):
    at = fields.DateTime()
    action = fields.String()
    step = fields.String()
    element_id = fields.String()
    department = fields.String()
    actor_name = fields.String()
    comment = fields.String()
    signature = fields.String()
    paused_days = fields.Integer(allow_none=True, metadata={
        "description": "on `supplemented`: working days the clock stood still during 补正 (the deadline moved on)"})
    automatic = fields.Boolean(metadata={"description": "秒批: decided by the service's DMN decision, no person"})
    on_behalf = fields.Boolean(metadata={"description": "帮办代办: actor_name is a helper acting for the applicant"})
    rule = fields.String(metadata={"description": "秒批: the DMN rule that decided (its id and description)"})
    decision_id = fields.String(metadata={"description": "秒批: the DMN decision"})


class ReturnRequestOut(Schema):
    fields_ = fields.List(fields.Dict(), data_key="fields", attribute="fields")
    materials = fields.List(fields.Dict())
    reason = fields.String()
    at = fields.DateTime()


class ResultOut(Schema):
    decision = fields.String()
    reason = fields.String()
    documents = fields.List(fields.String())
    at = fields.DateTime()
    automatic = fields.Boolean()
    rule = fields.String()


class ApplicationSummaryOut(Schema):
    id = fields.String()
    number = fields.String(allow_none=True)
    service_code = fields.String()
    service_name = fields.String()
    status = fields.String()
    current_steps = fields.List(fields.Nested(StepOut))
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    version = fields.Integer()


class ApplicationOut(ApplicationSummaryOut):
    service_version = fields.Integer()
    form_key = fields.String()
    form_version = fields.Integer()
    render_url = fields.Method("_render_url")
    data = fields.Dict()
    attachments = fields.List(fields.String())
    timeline = fields.List(fields.Nested(EventOut))
    return_request = fields.Nested(ReturnRequestOut, allow_none=True)
    result = fields.Nested(ResultOut, allow_none=True)
    withdrawable = fields.Method("_withdrawable")
    applicant_id = fields.String(metadata={"description": "whose application it is"})
    acted_by = fields.Method("_acted_by", metadata={
        "description": "帮办代办: {user_id, name, authorisation_id} of the helper who submitted it; null otherwise"})
    bundle_id = fields.String(allow_none=True, metadata={"description": "the 一件事 bundle case it is part of"})
    bundle_part = fields.String(allow_none=True)

    def _acted_by(self, app):
        if not getattr(app, "helper_id", None):
            return None
        return {"user_id": app.helper_id, "name": app.helper_name, "authorisation_id": app.authorisation_id}

    def _render_url(self, app):
        return f"/api/v1/forms/{app.form_key}/versions/{app.form_version}/render"

    def _withdrawable(self, app):
        return app.status in ("draft", "submitted", "returned") and not app.staff_acted


# -- approvers ---------------------------------------------------------------------------------------------------

class InboxArgs(Schema):
    box = fields.String(load_default="todo", validate=validate.OneOf(("todo", "done")),
                        metadata={"description": "todo: 待办 (mine and my groups' unclaimed); done: 已办"})
    service = fields.String(load_default=None, validate=ID)
    overdue = fields.Boolean(load_default=False)
    sort = fields.String(load_default="due", validate=validate.OneOf(("due", "newest")))
    application = fields.String(load_default=None, validate=validate.Length(min=1, max=40),
                                metadata={"description": "only the caller's 待办 rows of this case: its id or number"})


class TaskOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "process, rating_followup (a bad rating to follow up) or incident "
                                                  "(a step failed in the worker: approve retries it, reject ends "
                                                  "the case with the comment as reason)"})
    name = fields.String()
    element_id = fields.String()
    application_id = fields.String()
    application_number = fields.String()
    applicant_name = fields.String(metadata={"description": "masked"})
    service_code = fields.String()
    service_name = fields.String()
    candidate_departments = fields.List(fields.String())
    assignee = fields.String(allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Method("_overdue")
    escalated = fields.Boolean(metadata={"description": "overdue and escalated to the department's lead (red flag)"})
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    form_key = fields.String(allow_none=True)
    form_version = fields.Integer(allow_none=True)
    render_url = fields.Method("_render_url")
    version = fields.Integer()

    def _overdue(self, task):
        from core import clock

        return bool(task.due_at and task.status == "open" and clock.as_utc(task.due_at) < clock.now())

    def _render_url(self, task):
        return f"/api/v1/forms/{task.form_key}/versions/{task.form_version}/render" if task.form_key else None


class TaskCountsOut(Schema):
    todo = fields.Integer()
    overdue = fields.Integer()
    done = fields.Integer()
    cap = fields.Integer(metadata={"description": "a count equal to this means this many or more (show 99+)"})


class HandledApplicationOut(Schema):
    id = fields.String()
    number = fields.String()
    service_code = fields.String()
    service_name = fields.String()
    applicant_name = fields.String()
    status = fields.String()
    submitted_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    timeline = fields.List(fields.Nested(EventOut))
    return_request = fields.Nested(ReturnRequestOut, allow_none=True)
    acted_by = fields.Function(lambda app: {"name": app.helper_name} if getattr(app, "helper_id", None) else None,
                               metadata={"description": "帮办代办: the helper who submitted for the applicant"})
    render_url = fields.Function(lambda app: f"/api/v1/forms/{app.form_key}/versions/{app.form_version}/render",
                                 metadata={"description": "the application form's render model (its labels)"})


class FollowedRatingOut(Schema):
    """The rating a 差评回访 task follows up, as the department sees it."""
    score = fields.Integer()
    tags = fields.List(fields.String())
    comment = fields.String()
    follow_up = fields.Function(lambda r: {"at": r.follow_up.at, "comment": r.follow_up.comment}
                                if r.follow_up else None, metadata={"description": "the resident's 追评"})
    created_at = fields.DateTime()


class TaskIncidentOut(Schema):
    """What failed, for an incident task: the element and the kind, never the case's data."""
    element_id = fields.String()
    kind = fields.String(metadata={"description": "error, sandbox, timeout, memory, data_limit, exit"})
    during = fields.String(metadata={"description": "the action that failed: timers, message …"})
    at = fields.DateTime()
    process = fields.String(metadata={"description": "the process key and version"})


class TaskDetailOut(Schema):
    task = fields.Nested(TaskOut)
    incident = fields.Nested(TaskIncidentOut, allow_none=True, metadata={"description": "for an incident task"})
    rating = fields.Nested(FollowedRatingOut, allow_none=True,
                           metadata={"description": "for a rating_followup task: the rating it follows up"})
    application = fields.Nested(HandledApplicationOut)
    data = fields.Dict(metadata={"description": "the application's data; 身份证号 and phone numbers masked"})
    attachments = fields.List(fields.Dict(), metadata={
        "description": "{id, content, thumbnail}: links readable while you handle the application"})


class ClaimIn(Schema):
    version = VERSION


class CompleteIn(Schema):
    version = VERSION
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))
    signature = fields.String(load_default=None, validate=ID, metadata={"description": "an attachment id"})
    documents = fields.List(fields.String(validate=ID), load_default=list, validate=validate.Length(max=20),
                            metadata={"description": "result documents (your attachments)"})
    data = fields.Dict(load_default=dict, metadata={"description": "the task's own form data"})


class ReturnField(Schema):
    path = fields.String(required=True, validate=validate.Regexp(r"^/[^/]{1,200}$"),
                         metadata={"description": "JSON pointer of a top-level form field, e.g. /income"})
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class ReturnMaterial(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class ReturnIn(Schema):
    version = VERSION
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    fields_ = fields.List(fields.Nested(ReturnField), data_key="fields", load_default=list,
                          validate=validate.Length(max=100))
    materials = fields.List(fields.Nested(ReturnMaterial), load_default=list, validate=validate.Length(max=50))


class HandOverIn(Schema):
    version = VERSION
    user_id = fields.String(required=True, validate=ID, metadata={"description": "an approver of the task's department"})
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class AddSignerIn(HandOverIn):
    position = fields.String(required=True, validate=validate.OneOf(("before", "after")),
                             metadata={"description": "before me: they sign, then it comes back to me; after me: "
                                                      "my opinion is recorded and they decide"})
    decision = fields.String(load_default="approve", validate=validate.OneOf(("approve", "reject")),
                             metadata={"description": "my opinion, with position=after"})


class ReturnToStepIn(Schema):
    version = VERSION
    element_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReturnTargetOut(Schema):
    element_id = fields.String()
    name = fields.String()


class CarbonCopyIn(Schema):
    user_ids = fields.List(fields.String(validate=ID), load_default=list, validate=validate.Length(max=50))
    department_id = fields.String(load_default=None, validate=ID,
                                  metadata={"description": "copy every approver of this department"})
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class CarbonCopyOut(Schema):
    id = fields.String()
    application_id = fields.String()
    application_number = fields.String()
    service_name = fields.String()
    from_name = fields.String()
    comment = fields.String()
    read = fields.Function(lambda c: c.read_at is not None)
    read_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class CopyArgs(Schema):
    unread = fields.Boolean(load_default=False)


class CopyDetailOut(Schema):
    copy = fields.Nested(CarbonCopyOut)
    application = fields.Nested(HandledApplicationOut)
    data = fields.Dict()
    attachments = fields.List(fields.Dict())


class BatchItem(Schema):
    id = fields.String(required=True, validate=ID)
    version = VERSION


class BatchIn(Schema):
    items = fields.List(fields.Nested(BatchItem), required=True, validate=validate.Length(min=1, max=50))
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class BatchResultOut(Schema):
    id = fields.String()
    status = fields.Integer()
    code = fields.String()
    message = fields.String()


class BatchOut(Schema):
    results = fields.List(fields.Nested(BatchResultOut))
