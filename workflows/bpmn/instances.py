"""Process instances: start, complete a user task, deliver a message, fire timers (designers' test runs on them:
workflows/bpmn/test_runs.py).

Each action restores the instance on the version it started with (spec from the in-memory cache, state-only
JSON from the document), runs the sandboxed engine, and writes conditionally on the instance's `version`.
A failing expression or a sandbox refusal becomes an incident on the instance: its state stays where it was
before the action, so nothing is lost, and the caller gets a 422 naming the BPMN element.
"""
from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo.errors import DocumentTooLarge, WriteError
from SpiffWorkflow.exceptions import SpiffWorkflowException

from core import audit, clock
from core import deferred as deferred_records
from core.actor import Actor
from core.errors import Conflict, Invalid, NotFound
from workflows.bpmn import quotas, redact, service
from workflows.bpmn.engine import DEFAULT_ENGINE, Engine, PathRecorder, StepLimitExceeded
from workflows.bpmn.engine.outcome import Ending, end_reached, end_rejected, routes_rejection
from workflows.bpmn.limits import DataLimitExceeded, SandboxViolation
from workflows.bpmn.models import Incident, Instance, ProcessVersion

MAX_PATH = 2000          # path entries kept per instance (the oldest are dropped beyond this)
MAX_INCIDENTS = 100      # incidents kept per instance (each failed retry adds one; the oldest are dropped)
ENDED = ("completed", "cancelled")
ENGINE: Engine = DEFAULT_ENGINE


class IncidentRecorded(Invalid):
    """The action failed inside the process; the instance keeps its state and the incident is recorded."""
    code = "workflow_incident"


# -- incidents -------------------------------------------------------------------------------------------------

def _chain(error):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__


def _incident(error: BaseException, action: str) -> Incident:
    kind, element_id, line, cause = "error", "", None, None
    for item in _chain(error):
        if not isinstance(item, SpiffWorkflowException) and item is not error:
            cause = cause or item
        if isinstance(item, SandboxViolation) and kind == "error":
            kind = item.kind
        task_spec = getattr(item, "task_spec", None) or getattr(getattr(item, "task", None), "task_spec", None)
        if task_spec is not None and not element_id:
            element_id = getattr(task_spec, "bpmn_id", None) or ""
        if getattr(item, "line_number", None) and line is None:
            line = item.line_number
    message = str(error).split("\n")[0].strip()
    if cause is not None and str(cause) not in message:
        message = f"{message} ({type(cause).__name__}: {cause})"
    # the process data's values never go into a message (workflows/bpmn/redact.py)
    message = redact.message(message, redact.values_of(error, _chain))[:500]
    return Incident(at=clock.now(), kind=kind, element_id=element_id, message=message, line=line, action=action)


def incident_error(incident: Incident, *, detailed: bool = False) -> IncidentRecorded:
    """The 422 of a failed step. `detailed` (a designer's test run): the message too, its data values already
    replaced; otherwise (an approver, a resident) only the element and the kind — no expression text, no names."""
    item = {"path": incident.element_id or "", "element_id": incident.element_id, "code": incident.kind}
    if detailed:
        item.update(message=incident.message, **({"line": incident.line} if incident.line else {}))
    else:
        item["message"] = "workflow.incident_hidden"
    return IncidentRecorded("workflow.incident", errors=[item])


# -- the engine, around one action -----------------------------------------------------------------------------

def _state_fields(workflow, ending: Ending | None = None) -> dict:
    """What the instance document keeps beside the state: whether it runs, and once ended, where and how."""
    if ending is None and workflow.is_completed():
        ending = end_reached(workflow)
    ended = ending is not None or workflow.is_completed()
    return {"status": "completed" if ended else "running",
            "next_timer_at": None if ended else ENGINE.next_timer_at(workflow),
            "waiting_messages": [] if ended else ENGINE.waiting_messages(workflow),
            "end_event": ending.element_id if ending else None,
            "outcome": (ending.outcome if ending else "approved") if ended else None}


@quotas.observed
def start(actor: Actor, version: ProcessVersion, data: dict | None = None, *, is_test: bool = False,
          application_id=None, audited_by_caller: bool = False) -> Instance:
    """Start an instance of a published version and run it to its first wait. The returned instance carries
    `ready` (not stored): the user tasks now waiting, as `Engine.ready_tasks` lists them.
    `audited_by_caller`: the caller's own audit record of this action names the instance (one record, not two;
    an incident is recorded here all the same)."""
    spec = service.spec_json(version)
    try:
        workflow = ENGINE.new(spec, data or {})
    except (DataLimitExceeded, StepLimitExceeded) as e:
        raise _start_refused(spec, data, e) from None
    recorder = PathRecorder(workflow)
    instance = Instance(key=version.key, process_version_number=version.version, process_version_id=version.id,
                        department=version.department, is_test=is_test, started_by=actor.user_id,
                        application_id=application_id)
    instance.ready = []
    try:
        ENGINE.run(workflow)
        instance.state_json = ENGINE.dump(workflow)
        instance.ready = ENGINE.ready_tasks(workflow)
        for name, value in _state_fields(workflow).items():
            setattr(instance, name, value)
        instance.path = recorder.entries(workflow)
        instance._workflow = workflow        # view() shows it without restoring
    except Exception as e:   # noqa: BLE001 — whatever the process did, the instance is kept with an incident
        instance.state_json, instance.status = _start_state(spec, data), "incident"
        instance.incidents = [_incident(e, "start")]
    try:
        instance.save(force_insert=True)
    except DocumentTooLarge:   # the state is bounded; this guards what else an instance holds (its path)
        instance.state_json, instance.status, instance.path = _start_state(spec, data), "incident", []
        instance.incidents = [_too_large_incident("start")]
        instance.save(force_insert=True)
    if not audited_by_caller or instance.status == "incident":
        audit.record(actor, "process.instance.start", "process_instance", instance.id, key=version.key,
                     version=version.version, test=is_test, status=instance.status)
    return instance


def _start_state(spec: str, data: dict | None) -> str:
    """The state an instance starts from, for one kept with an incident of its first run (made again only then: a
    start that runs is dumped once). Start data the state cannot hold is refused here, not a 500."""
    try:
        return ENGINE.dump(ENGINE.new(spec, data or {}))
    except (DataLimitExceeded, StepLimitExceeded) as e:
        raise _start_refused(spec, data, e) from None


def _start_refused(spec: str, data: dict | None, error: SandboxViolation) -> Invalid:
    """Blame the right party: the caller's data, or the definition when it cannot start even with no data
    (thousands of parallel branches were reported as the caller's /data being too large)."""
    if data and isinstance(error, DataLimitExceeded):
        try:
            ENGINE.dump(ENGINE.new(spec, {}))
        except SandboxViolation:
            pass
        else:
            return Invalid("workflow.data_too_large", errors=[{"path": "/data", "code": error.kind,
                                                               "message": str(error)}])
    element = getattr(getattr(getattr(error, "task", None), "task_spec", None), "bpmn_id", None) or ""
    return Invalid("workflow.definition_too_large", errors=[{
        "path": element, "element_id": element, "code": error.kind,
        "message": f"{error} (the published definition itself, before any data: validate it again)"}])


def _too_large_incident(action: str) -> Incident:
    return Incident(at=clock.now(), kind="data_limit", element_id="", action=action,
                    message="the instance would outgrow the database's 16 MB document limit; it stays as it was")


@quotas.observed
def _act(actor: Actor, instance: Instance, action: str, step, details: dict, *, expected_version=None,
         audited_by_caller: bool = False, owed=()):
    """Restore, run `step(workflow)`, and write the new state conditionally, or record an incident.
    The returned instance carries `ready` (not stored): the user tasks waiting after the action.
    `owed`: the records the step owes (a decision's audit record, its messages), or a function of the step's
    fields (status, outcome, …) that makes them; they go in with the instance's write (core/deferred.py)."""
    if instance.status in ENDED:
        raise Conflict("workflow.instance_ended")     # a cancelled or finished process never moves again
    if expected_version is not None and expected_version != instance.revision:
        raise Conflict("workflow.instance_changed")
    try:
        # inside: a state that cannot be restored is the instance's incident, not a 500 (nor a tick that stops)
        workflow = ENGINE.restore(service.spec_json_by_id(instance.process_version_id), instance.state_json)
        recorder = PathRecorder(workflow)
        ending = step(workflow)
        state = ENGINE.dump(workflow)
        ready = ENGINE.ready_tasks(workflow)
    except (NotFound, Invalid):
        raise
    except DataLimitExceeded as e:
        if action in ("complete", "message"):
            raise Invalid("workflow.data_too_large", errors=[{"path": "/data", "code": e.kind, "message": str(e)}])
        return _record_incident(actor, instance, _incident(e, action))
    except Exception as e:   # noqa: BLE001
        return _record_incident(actor, instance, _incident(e, action))
    fields = _state_fields(workflow, ending if isinstance(ending, Ending) else None)
    entries = recorder.entries(workflow)
    now = clock.now()
    carried = deferred_records.carry_raw(owed({**fields, "ready": ready}) if callable(owed) else list(owed), now)
    # the hot path: one conditional update straight through the driver; never on an ended instance (a cancel
    # that landed after this action read it wins)
    try:
        changed = Instance._get_collection().update_one(
            {"_id": instance.id, "version": instance.revision, "status": {"$nin": list(ENDED)}}, {
            "$set": {"state_json": state, **fields, "updated_at": now, "lease_until": None},
            "$push": {"path": {"$each": entries, "$slice": -MAX_PATH}, **carried.get("$push", {})},
            **({"$min": carried["$min"]} if carried else {}),
            "$inc": {"version": 1}}).modified_count
    except (DocumentTooLarge, WriteError) as e:
        if isinstance(e, WriteError) and e.code not in (10334, 17419):   # BSONObjectTooLarge, too large after update
            raise
        return _record_incident(actor, instance, _too_large_incident(action))
    if not changed:
        raise Conflict("workflow.instance_changed")   # someone acted first; the client reloads
    if not audited_by_caller:
        audit.record(actor, f"process.instance.{action}", "process_instance", instance.id, **details)
    # what the write stored, without reading it back
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.state_json = state
    instance.path = (list(instance.path) + entries)[-MAX_PATH:]
    instance.revision += 1
    instance.lease_until = None
    instance.ready = ready
    instance._workflow = workflow    # the live workflow, so view() need not restore it a second time
    return instance


def _record_incident(actor, instance, incident):
    changed = Instance._get_collection().update_one({"_id": instance.id, "version": instance.revision}, {
        "$push": {"incidents": {"$each": [incident.to_mongo()], "$slice": -MAX_INCIDENTS}},
        # A failed timer is not tried again by every tick (an incident and an audit record each time): it waits
        # until a person acts. Other failures changed nothing: the instance's timers keep running.
        "$set": {"status": "incident", "updated_at": clock.now(), "lease_until": None,
                 **({"next_timer_at": None} if incident.action == "timers" else {})},
        "$inc": {"version": 1}}).modified_count
    if not changed:
        raise Conflict("workflow.instance_changed")
    audit.record(actor, "process.instance.incident", "process_instance", instance.id, kind=incident.kind,
                 element_id=incident.element_id, during=incident.action)
    raise incident_error(incident, detailed=instance.is_test)


def complete_task(actor: Actor, instance: Instance, task_id: str, data: dict | None = None, *,
                  expected_version: int | None = None, prepare=None, audited_by_caller: bool = False,
                  reject: bool = False, owed=()) -> Instance:
    """`prepare(task, data)` (workflows.bpmn.task_data.for_task) checks and types the data against the task's form.
    `reject`: a 不同意, which ends the process `rejected` here unless the task routes rejections
    (workflows/bpmn/engine/outcome.py)."""
    def step(workflow):
        task = ENGINE.ready_task(workflow, task_id)
        if task is None:
            raise NotFound("workflow.task_not_ready")
        given = prepare(task, data) if prepare else (data or {})
        if reject and not routes_rejection(task):
            return end_rejected(workflow, task, given)
        ENGINE.complete(workflow, task_id, given)
        return None

    return _act(actor, instance, "complete", step, {"task_id": task_id}, expected_version=expected_version,
                audited_by_caller=audited_by_caller, owed=owed)


def amend_task_data(actor: Actor, instance: Instance, task_id: str, data: dict, *,
                    expected_version: int | None = None) -> Instance:
    """Put corrected data (a resident's 补正) into a task that waits, without completing it."""
    def step(workflow):
        task = ENGINE.ready_task(workflow, task_id)
        if task is None:
            raise NotFound("workflow.task_not_ready")
        ENGINE.amend(task, data)

    return _act(actor, instance, "amend", step, {"task_id": task_id, "fields": sorted(data)},
                expected_version=expected_version)


def return_to(actor: Actor, instance: Instance, element_id: str, *, owed=()) -> Instance:
    """Send the case back to an earlier completed user task (the tasks after it are undone)."""
    def step(workflow):
        if not ENGINE.return_to(workflow, element_id):
            raise Invalid("workflow.not_an_earlier_step", errors=[{
                "path": "/element_id", "code": "not_found", "message": "workflow.not_an_earlier_step"}])

    return _act(actor, instance, "return", step, {"element_id": element_id}, owed=owed)


def remove_signer(actor: Actor, instance: Instance, task_id: str, *, owed=()) -> Instance:
    """减签: take one countersign instance that has not been acted on out; the rest decide by the rule."""
    def step(workflow):
        task = ENGINE.ready_task(workflow, task_id)
        if task is None:
            raise NotFound("workflow.task_not_ready")
        counters = ENGINE.countersign_signers(workflow, task_id)
        element = task.task_spec.bpmn_id
        if counters is None or counters["nrOfInstances"] <= 1:
            code = "not_a_countersign" if counters is None else "last_signer"
            raise Invalid(f"task.{code}", errors=[{"path": element, "element_id": element, "code": code,
                                                   "message": f"task.{code}"}])
        ENGINE.remove_signer(workflow, task_id)

    return _act(actor, instance, "remove_signer", step, {"task_id": task_id}, owed=owed)


def completed_user_tasks(instance: Instance) -> list[dict]:
    workflow = ENGINE.restore(service.spec_json_by_id(instance.process_version_id), instance.state_json)
    return ENGINE.completed_user_tasks(workflow)


def cancel(actor: Actor, instance: Instance | ObjectId) -> bool:
    """Stop a running instance (or the one of this id) for good (a withdrawn application): no task or timer of it
    runs again. An action in flight then fails its conditional write (it never writes on an ended instance)."""
    instance_id = instance.id if isinstance(instance, Instance) else instance
    changed = Instance.objects(id=instance_id, status__in=("running", "incident")).update_one(
        set__status="cancelled", set__next_timer_at=None, set__waiting_messages=[], set__updated_at=clock.now(),
        inc__revision=1)
    if changed:
        audit.record(actor, "process.instance.cancel", "process_instance", instance_id)
    return bool(changed)


def end_rejected_by_person(actor: Actor, instance: Instance, *, element_id: str) -> Instance | None:
    """A person ends a process stopped at an incident: `rejected`, at the element that failed (the case follows
    through its writer). None when it is no longer at an incident (retried or ended meanwhile)."""
    now = clock.now()
    fields = {"status": "completed", "outcome": "rejected", "end_event": element_id, "next_timer_at": None,
              "waiting_messages": [], "updated_at": now, "lease_until": None}
    if not Instance._get_collection().update_one({"_id": instance.id, "version": instance.revision,
                                                  "status": "incident"},
                                                 {"$set": fields, "$inc": {"version": 1}}).modified_count:
        return None
    audit.record(actor, "process.instance.end", "process_instance", instance.id, element_id=element_id)
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.revision += 1
    instance.ready = []
    return instance


def deliver_message(actor: Actor, instance: Instance, name: str, payload: dict | None = None) -> Instance:
    def step(workflow):
        if name not in ENGINE.waiting_messages(workflow):
            raise Invalid("workflow.not_waiting_for_message", errors=[{
                "path": "/name", "code": "not_waiting", "message": f"the process is not waiting for '{name}'"}])
        ENGINE.message(workflow, name, payload or {})

    return _act(actor, instance, "message", step, {"message": name})


def fire_timers(actor: Actor, instance: Instance, at: datetime | None = None) -> Instance:
    """Fire the timers due by `at`. The step is returned, not followed: the worker hands it to the case above."""
    def step(workflow):
        ENGINE.fire_timers(workflow, at)

    return _act(actor, instance, "timers", step, {"at": str(at or "")})


def view(instance: Instance) -> dict:
    """What a caller sees: status, ready user tasks (lane, form, data, due time), path, incidents."""
    pinned = service.pinned_forms(instance.process_version_id)
    tasks = []
    if instance.status != "completed":
        try:
            workflow = getattr(instance, "_workflow", None) or \
                ENGINE.restore(service.spec_json_by_id(instance.process_version_id), instance.state_json)
        except Exception:   # noqa: BLE001 — an unrestorable state is shown with its incident, not a 500
            if instance.status != "incident":
                raise
            workflow = None
        tasks = ENGINE.ready_tasks(workflow) if workflow is not None else []
        for task in tasks:
            task["form_version"] = task["form_version"] or pinned.get(task["element_id"])
    return {"id": str(instance.id), "key": instance.key, "process_version": instance.process_version_number,
            "status": instance.status, "is_test": instance.is_test, "ready_tasks": tasks, "path": instance.path,
            "incidents": instance.incidents, "next_timer_at": instance.next_timer_at,
            "waiting_messages": instance.waiting_messages, "created_at": instance.created_at,
            "updated_at": instance.updated_at, "version": instance.revision,
            "end_event": instance.end_event, "outcome": instance.outcome}
