"""Process definitions (drafts, immutable published versions) and process instances."""
from __future__ import annotations

import mongoengine as me

from core import clock
from core import deferred as deferred_records


class DmnFile(me.EmbeddedDocument):
    name = me.StringField(default="", max_length=200)
    xml = me.StringField(required=True)


class ProcessDraft(me.Document):
    """What a designer edits: BPMN XML and optional DMN files. Changed only conditionally on `version`."""
    key = me.StringField(required=True, unique=True, max_length=64)
    name = me.StringField(required=True, max_length=200)
    department = me.StringField(required=True)          # the owning department's id
    bpmn_xml = me.StringField(required=True)
    dmn = me.EmbeddedDocumentListField(DmnFile)
    status = me.StringField(default="draft", choices=("draft", "published"))
    published_version = me.IntField(null=True)          # the newest published version number
    created_by = me.StringField(default="")
    created_at = me.DateTimeField(default=clock.now)
    updated_at = me.DateTimeField(default=clock.now)
    version = me.IntField(default=1)

    meta = {"collection": "process_drafts", "indexes": ["department", "-updated_at"]}


class ProcessVersion(me.Document):
    """A published process: never changed after it is written. The spec is serialized once, here."""
    key = me.StringField(required=True)
    version = me.IntField(required=True)
    name = me.StringField(required=True)
    department = me.StringField(required=True)
    process_id = me.StringField(required=True)          # the executable BPMN process id
    bpmn_xml = me.StringField(required=True)
    dmn = me.EmbeddedDocumentListField(DmnFile)
    spec_json = me.StringField(required=True)           # SpiffWorkflow's spec + subprocess specs
    calls = me.DictField()                              # called process id → "key@version" it was bound to
    user_tasks = me.ListField(me.DictField())           # element id, name, lane, form key + version
    published_by = me.StringField(default="")
    published_at = me.DateTimeField(default=clock.now)

    meta = {"collection": "process_versions",
            "indexes": [{"fields": ["key", "-version"], "unique": True}, "process_id", "department"]}


class Incident(me.EmbeddedDocument):
    at = me.DateTimeField(required=True)
    kind = me.StringField(required=True)                # sandbox, timeout, memory, data_limit, exit, error
    element_id = me.StringField(default="")
    message = me.StringField(default="")
    line = me.IntField(null=True)
    action = me.StringField(default="")                 # start, complete, message, timers


class Instance(me.Document):
    """One running process. `state_json` is SpiffWorkflow's state without the spec (state-only JSON); the spec
    comes from the ProcessVersion it started on, always.

    It runs one published process version, named twice: `process_version_number` (the number a designer sees,
    "residence_permit v3", with `key`) and `process_version_id` (that ProcessVersion document's id, where the spec
    is loaded from: `service.spec_json_by_id`); neither changes. `revision` is this document's own revision for
    optimistic locking: every write is conditional on it and raises it by one (a stale one is a 409; the API calls
    it `version`). A worker's timer lease (`lease_until`, `lease_token`) is kept out of it, so a claim does not make
    people's actions stale. The stored field names are the older `process_version`, `version_id` and `version`.
    """
    key = me.StringField(required=True)
    process_version_number = me.IntField(required=True, db_field="process_version")
    process_version_id = me.ObjectIdField(required=True, db_field="version_id")
    department = me.StringField(required=True)
    status = me.StringField(default="running", choices=("running", "completed", "incident", "cancelled"))
    application_id = me.ObjectIdField(null=True)       # the resident's application it runs (None for test runs)
    state_json = me.StringField(required=True)
    next_timer_at = me.DateTimeField(null=True)
    lease_until = me.DateTimeField(null=True)           # a timer worker's claim, until then
    lease_token = me.StringField(null=True)             # which claim (instances.claim_many) holds it
    waiting_messages = me.ListField(me.StringField())
    path = me.ListField(me.DictField())                 # element id, name, type, lane, at, changes
    incidents = me.EmbeddedDocumentListField(Incident)
    is_test = me.BooleanField(default=False)
    started_by = me.StringField(default="")
    created_at = me.DateTimeField(default=clock.now)
    updated_at = me.DateTimeField(default=clock.now)
    revision = me.IntField(default=1, db_field="version")   # optimistic lock, see above
    # once it has ended: the end event reached (or the user task whose 不同意 ended it) and the outcome it declares
    # (workflows/bpmn/engine/outcome.py); the case above takes its result from here, never from the last button
    end_event = me.StringField(null=True)
    outcome = me.StringField(null=True, choices=("approved", "rejected"))
    # what a step owes (its decision's audit record, its messages), written with the step (core/deferred.py)
    deferred = me.ListField(me.DictField())
    deferred_due_at = me.DateTimeField()     # not stored as null: `$min` must find it missing, not null

    meta = {"collection": "process_instances", "indexes": [
        "next_timer_at", ("key", "process_version_number"), "status",
        # test runs: listed by their process, purged a day after they start
        ("is_test", "created_at"),
        {"fields": ["deferred_due_at"], "sparse": True}]}


deferred_records.register(Instance)
