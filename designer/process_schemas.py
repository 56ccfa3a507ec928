"""Request and response schemas of the process designer API (BPMN drafts, versions, test runs)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.errors import ErrorItem
from api.http import DATETIME_RANGE

PROCESS_KEY = validate.Regexp(r"^[A-Za-z][A-Za-z0-9_-]{1,63}$",
                              error="2–64 of A-Z, a-z, 0-9, _ and -, starting with a letter")
BPMN_XML = {"description": "BPMN 2.0 XML (SpiffWorkflow extensions; docs/bpmn.md)"}


class ProcessDmnIn(Schema):
    name = fields.String(load_default="", validate=validate.Length(max=200))
    xml = fields.String(required=True, validate=validate.Length(min=1, max=500_000),
                        metadata={"description": "DMN 1.3 XML"})


class ProcessDraftIn(Schema):
    key = fields.String(required=True, validate=PROCESS_KEY,
                        metadata={"description": "the definition key; also the id of the main BPMN process"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    department = fields.String(required=True, validate=validate.Length(min=1, max=64),
                               metadata={"description": "the owning department's id"})
    bpmn_xml = fields.String(required=True, validate=validate.Length(min=1, max=1_000_000), metadata=BPMN_XML)
    dmn = fields.List(fields.Nested(ProcessDmnIn), load_default=list, validate=validate.Length(max=10))


class ProcessDraftUpdateIn(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    bpmn_xml = fields.String(validate=validate.Length(min=1, max=1_000_000), metadata=BPMN_XML)
    dmn = fields.List(fields.Nested(ProcessDmnIn), validate=validate.Length(max=10))

    @validates_schema
    def _something(self, data, **kw):
        if not data:
            raise ValidationError("send name, bpmn_xml or dmn", field_name="bpmn_xml")


class ProcessDraftCheckIn(Schema):
    bpmn_xml = fields.String(validate=validate.Length(min=1, max=1_000_000),
                             metadata={"description": "unsaved BPMN to check instead of the stored draft"})
    dmn = fields.List(fields.Nested(ProcessDmnIn), validate=validate.Length(max=10))


class ProcessDraftListArgs(Schema):
    department = fields.String()


class ProcessDmnOut(Schema):
    name = fields.String()
    xml = fields.String()


class ProcessDraftSummaryOut(Schema):
    key = fields.String()
    name = fields.String()
    department = fields.String()
    status = fields.String()
    published_version = fields.Integer(allow_none=True)
    version = fields.Integer(metadata={"description": "the draft's version; its ETag is this number quoted"})
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProcessDraftOut(ProcessDraftSummaryOut):
    bpmn_xml = fields.String(metadata=BPMN_XML)
    dmn = fields.List(fields.Nested(ProcessDmnOut))


class ProcessProblemOut(ErrorItem):
    """A validation problem: `path` is the BPMN element id, or a JSON pointer when there is none."""
    element_id = fields.String()
    line = fields.Integer()
    column = fields.Integer()


class ProcessUserTaskOut(Schema):
    element_id = fields.String()
    name = fields.String()
    form_key = fields.String(allow_none=True)
    form_version = fields.Integer(allow_none=True)


class ProcessCheckOut(Schema):
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(ProcessProblemOut))
    process_id = fields.String(allow_none=True)
    user_tasks = fields.List(fields.Nested(ProcessUserTaskOut))
    calls = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "called process id → key@version it binds to"})


class ProcessVersionSummaryOut(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    department = fields.String()
    process_id = fields.String()
    calls = fields.Dict(keys=fields.String(), values=fields.String())
    user_tasks = fields.List(fields.Nested(ProcessUserTaskOut))
    published_by = fields.String()
    published_at = fields.DateTime()


class ProcessVersionOut(ProcessVersionSummaryOut):
    bpmn_xml = fields.String(metadata=BPMN_XML)
    dmn = fields.List(fields.Nested(ProcessDmnOut))


class TestRunIn(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": "the start data"})


class TaskCompleteIn(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": "the form data"})
    decision = fields.String(load_default="approve", validate=validate.OneOf(("approve", "reject")), metadata={
        "description": "the approver's button: 同意 (approve) or 不同意 (reject), with the same meaning as for a real "
                       "case: reject ends the run `rejected` unless the task routes rejections (onReject=route)"})
    version = fields.Integer(metadata={"description": "the test run's version you read (optional)"})


class ProcessMessageIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    payload = fields.Dict(keys=fields.String(), load_default=dict)


class TimersIn(Schema):
    at = fields.AwareDateTime(load_default=None, allow_none=True, validate=DATETIME_RANGE, metadata={
        "description": "fire the timers due by this time (default: now) — lets a test run skip ahead"})


class ReadyTaskOut(Schema):
    id = fields.String()
    element_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    form_key = fields.String(allow_none=True)
    form_version = fields.Integer(allow_none=True)
    data = fields.Dict()
    due_at = fields.DateTime(allow_none=True)
    multi_instance_index = fields.Integer(allow_none=True)


class PathEntryOut(Schema):
    element_id = fields.String()
    name = fields.String()
    type = fields.String()
    lane = fields.String(allow_none=True)
    at = fields.DateTime()
    changes = fields.Dict(metadata={"description": "data keys this step set (null: removed); long values cut"})


class IncidentOut(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"description": "sandbox, timeout, memory, data_limit, exit or error"})
    element_id = fields.String()
    message = fields.String()
    line = fields.Integer(allow_none=True)
    action = fields.String()


class TestRunOut(Schema):
    id = fields.String()
    key = fields.String()
    process_version = fields.Integer()
    status = fields.String(metadata={"description": "running, completed, cancelled or incident"})
    end_event = fields.String(allow_none=True, metadata={
        "description": "once completed: the end event reached, or the user task whose 不同意 ended it"})
    outcome = fields.String(allow_none=True, metadata={"description": "once completed: approved or rejected, as "
                                                                      "that end declares (docs/bpmn.md, 办结结果)"})
    is_test = fields.Boolean()
    ready_tasks = fields.List(fields.Nested(ReadyTaskOut))
    path = fields.List(fields.Nested(PathEntryOut))
    incidents = fields.List(fields.Nested(IncidentOut))
    next_timer_at = fields.DateTime(allow_none=True)
    waiting_messages = fields.List(fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class BreakerHitOut(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"description": "timeout (CPU or steps) or memory (tasks, size)"})
    element_id = fields.String(metadata={"description": "the BPMN element the action stopped at"})
    message = fields.String()
    action = fields.String(metadata={"description": "start, complete, message, timers …"})


class BreakerThresholdOut(Schema):
    hits = fields.Integer(metadata={"description": "limit hits within the window that throttle one account …"})
    window_seconds = fields.Integer()
    accounts = fields.Integer(metadata={"description": "… and, from this many distinct accounts, open the breaker"})
    cooldown_seconds = fields.Integer(metadata={"description": "throttled accounts wait this long; an open breaker "
                                                               "then lets one submission through (half-open)"})


class BreakerOut(Schema):
    """A published version's limit hits by residents' and approvers' actions; open: new submissions refused."""
    key = fields.String()
    version = fields.Integer()
    open = fields.Boolean(metadata={"description": "true: submissions to services running it answer 503"})
    opened_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    closed_by = fields.String(metadata={"description": "the admin who re-enabled it last"})
    hits = fields.List(fields.Nested(BreakerHitOut), metadata={"description": "newest first"})
    threshold = fields.Nested(BreakerThresholdOut)
