"""The application document: everything a resident's phone shows about one case, read in one look-up."""
from __future__ import annotations

import json

import mongoengine as me

from core import clock
from core import deferred as deferred_records

# draft → submitted (in progress) ⇄ returned (补正) → approved | rejected; withdrawn from draft/submitted/returned
# cancelled: a part of a 一件事 bundle that another department's rejection ended (workflows/cases/bundles)
STATUSES = ("draft", "submitted", "returned", "approved", "rejected", "withdrawn", "cancelled")
OPEN = ("submitted", "returned")
FINAL = ("approved", "rejected", "withdrawn", "cancelled")
# A person's comment (an approver's opinion, a reason) is at most COMMENT_MAX characters (the API schemas say so);
# a timeline line may put a short lead before it (to whom a task went, 同意/不同意, how many were copied), so the
# line's own limit leaves room for that lead and a comment is always stored whole (`Event.line`).
COMMENT_MAX = 2000
LINE_MAX = COMMENT_MAX + 200


class Step(me.EmbeddedDocument):
    """A task waiting for a person now (a copy of the inbox projection's open rows, for the resident's view)."""
    task_id = me.StringField(required=True)        # the engine's task id
    element_id = me.StringField(default="")
    name = me.StringField(default="")
    department = me.StringField(default="")        # the handling department's id, when the lane names one
    due_at = me.DateTimeField(null=True)


class Event(me.EmbeddedDocument):
    """One line of the timeline."""
    at = me.DateTimeField(required=True)
    action = me.StringField(required=True)         # submitted, approved, rejected, returned, supplemented, …
    step = me.StringField(default="")              # the user task's name
    element_id = me.StringField(default="")
    department = me.StringField(default="")
    actor_id = me.StringField(default="")
    actor_name = me.StringField(default="")
    comment = me.StringField(default="", max_length=LINE_MAX)
    signature = me.StringField(default="")         # an attachment id
    paused_days = me.IntField(null=True)           # supplemented: working days the clock stood still (补正)
    automatic = me.BooleanField(default=False)     # 秒批: decided by the service's DMN decision, no person
    on_behalf = me.BooleanField(default=False)     # 帮办代办: the actor is a helper acting for the applicant
    rule = me.StringField(default="")              # 秒批: the rule that decided ("id (description)")
    decision_id = me.StringField(default="")       # 秒批: the DMN decision

    @staticmethod
    def line(lead: str, comment: str = "", sep: str = "：") -> str:
        """A timeline text: a short lead (cut to what leaves room) and the whole comment."""
        comment = comment[:COMMENT_MAX]
        lead = lead[:LINE_MAX - len(comment) - len(sep)]
        return f"{lead}{sep}{comment}" if lead and comment else (lead or comment)


class ReturnRequest(me.EmbeddedDocument):
    """What an approver asked the applicant to correct (补正): only these fields may change."""
    fields = me.ListField(me.DictField())          # {path, reason}
    materials = me.ListField(me.DictField())       # {name, reason}
    reason = me.StringField(default="", max_length=2000)
    task_id = me.StringField(default="")           # the task that waits for the correction
    at = me.DateTimeField()


class Result(me.EmbeddedDocument):
    decision = me.StringField(choices=("approved", "rejected"))
    reason = me.StringField(default="", max_length=2000)
    documents = me.ListField(me.StringField())     # attachment ids of result documents
    at = me.DateTimeField()
    automatic = me.BooleanField(default=False)     # 秒批
    rule = me.StringField(default="")


class Application(me.Document):
    number = me.StringField()                      # ZB2026112700001: given on submit; a draft has none (unset)
    applicant_id = me.StringField(required=True)
    applicant_name = me.StringField(default="")    # masked, for approvers' lists
    service_code = me.StringField(required=True)
    service_version = me.IntField(required=True)
    service_name = me.StringField(default="")
    department = me.StringField(required=True)     # the service's department
    form_key = me.StringField(required=True)
    form_version = me.IntField(required=True)
    # JSON text: a draft holds whatever a phone autosaved, whose keys MongoDB may not accept as field names
    data_json = me.StringField(default="{}")
    attachments = me.ListField(me.StringField())
    status = me.StringField(choices=STATUSES, default="draft")
    instance_id = me.ObjectIdField(null=True)
    # the instance revision this case's status, steps and result were last written from: the case-state writer
    # (workflows/cases/applications/case_state.py) writes only a newer one, so a slower request never undoes a newer state
    instance_revision = me.IntField(null=True)
    current_steps = me.EmbeddedDocumentListField(Step)
    timeline = me.EmbeddedDocumentListField(Event)
    return_request = me.EmbeddedDocumentField(ReturnRequest, null=True)
    result = me.EmbeddedDocumentField(Result, null=True)
    # 网办 (online: the applicant submitted it themself) or offline (staff entered it for them): the statistics' 网办率
    channel = me.StringField(choices=("online", "offline"), default="online")
    staff_acted = me.BooleanField(default=False)   # once an approver acted, the resident can no longer withdraw
    last_urged_at = me.DateTimeField(null=True)     # 催办: at most once a day
    idempotency_key = me.StringField(null=True)
    helper_id = me.StringField(null=True)           # 帮办代办: the staff member who submitted for the applicant
    helper_name = me.StringField(null=True)
    authorisation_id = me.StringField(null=True)    # the resident's authorisation they acted under
    bundle_id = me.ObjectIdField(null=True)         # the 一件事 bundle case this application is a part of
    bundle_part = me.StringField(null=True)         # that part's key
    due_at = me.DateTimeField(null=True)           # the service's commitment time limit
    # the clock (workflows/cases/clock): reminder at 75 % of the limit, escalation once overdue, paused during 补正
    remind_at = me.DateTimeField(null=True)
    reminded_at = me.DateTimeField(null=True)
    escalated_at = me.DateTimeField(null=True)
    paused_at = me.DateTimeField(null=True)         # returned to the applicant at; cleared on supplement
    # a step of its process failed in the worker (workflows/cases/tasks/incidents.py): the department has a task for it
    attention_at = me.DateTimeField(null=True)
    # approved, its result documents still to be made (by the worker: workflows/cases/materials/results.py) from then;
    # None once made. Set in the same write that approves it, so no approval is left without its documents.
    documents_due_at = me.DateTimeField(null=True)
    # what it adds to the statistics changed (submitted, ended, withdrawn): the worker adds it from then
    # (workflows/cases/stats/rollups.py `flush_due`); `stats_counted` is what it has added so far
    stats_due_at = me.DateTimeField(null=True)
    stats_counted = me.DictField()
    # a part of a 一件事 bundle ended: the worker moves its bundle on from then (workflows/cases/bundles/cases.py
    # `advance_due`), set in the same write that ends it
    bundle_due_at = me.DateTimeField(null=True)
    # the audit records and notifications an action on it owes, written with that action's own update and moved
    # on by the worker (core/deferred.py); deferred_due_at: the oldest waits from then, None when none waits
    deferred = me.ListField(me.DictField())
    deferred_due_at = me.DateTimeField()     # not stored as null: `$min` must find it missing, not null
    created_at = me.DateTimeField(default=clock.now)
    submitted_at = me.DateTimeField(null=True)
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "applications", "indexes": [
        ("applicant_id", "-created_at"), ("applicant_id", "status", "-created_at"),
        # sparse, not partial: the embedded database never uses a partial index (a look-up by number read them all)
        {"fields": ["number"], "unique": True, "sparse": True},
        {"fields": ["applicant_id", "idempotency_key"], "unique": True,
         "partialFilterExpression": {"idempotency_key": {"$type": "string"}}},
        "instance_id",
        {"fields": ["bundle_id"], "partialFilterExpression": {"bundle_id": {"$type": "objectId"}}},
        # the clock's scans: open applications whose reminder or deadline has come, not yet handled
        ("status", "reminded_at", "remind_at"), ("status", "escalated_at", "due_at"),
        # the worker's queue of result documents to make: only the approved cases still waiting are in it
        {"fields": ["documents_due_at"], "sparse": True},
        {"fields": ["stats_due_at"], "sparse": True},
        {"fields": ["bundle_due_at"], "sparse": True},
        {"fields": ["deferred_due_at"], "sparse": True}]}

    @property
    def data(self) -> dict:
        return json.loads(self.data_json or "{}")


deferred_records.register(Application)


class DailyCounter(me.Document):
    """The last application number handed out per day (gaps are fine: a failed submit skips one)."""
    id = me.StringField(primary_key=True)          # "20261127"
    last = me.IntField(default=0)

    meta = {"collection": "application_counters"}
