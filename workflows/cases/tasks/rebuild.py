"""`zhangban rebuild-projections`: put the inbox rows and the applications' steps back in line with the instances.

The instance state is the source of truth. A crash between the writes of one action can leave: an instance with
no application (a submit that died before its application was written), open tasks with no row, rows for tasks
that no longer wait, a row taken as done whose task still waits (an approval that died before the engine ran),
an application whose steps or status lag behind its instance, or a decision the engine took that the timeline
lacks (an approval that died after the instance's write, before the application's), or open rows of a case
that has ended, or a process still running behind a withdrawn or cancelled case. Each is found here and
repaired; an application behind its instance is brought along by the one case-state writer
(workflows/cases/applications/case_state.py), as any step is.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import timedelta

from core import audit, clock
from core.actor import Actor
from workflows.bpmn import instances, service as processes
from workflows.cases.applications import case_state, cases
from workflows.cases.applications.models import OPEN, Application, Event
from workflows.bpmn.engine import DEFAULT_ENGINE
from workflows.bpmn.models import Instance
from workflows.cases.tasks import projection
from workflows.cases.tasks.models import HumanTask


# a process's rows (written by the projection without a kind); a bad rating's follow-up outlives its case
PROCESS_ROWS = {"kind": {"$in": [None, "process"]}}
SETTLED = timedelta(minutes=5)     # older than this, no request or worker round is still acting on it


@dataclass
class Report:
    applications: int = 0
    rows_added: int = 0
    rows_cancelled: int = 0
    rows_reopened: int = 0
    rows_of_closed_cases: int = 0
    cases_followed: int = 0             # applications behind their instance, brought along by the case-state writer
    decisions_added: int = 0
    steps_fixed: int = 0
    finished: int = 0
    orphan_instances: int = 0
    stopped_behind_closed: int = 0     # processes running behind a withdrawn or cancelled case
    unrestorable: int = 0
    left_in_flight: int = 0            # younger than min_age: maybe an action still running, left alone

    @property
    def differences(self) -> int:
        return sum(v for k, v in asdict(self).items() if k not in ("applications", "left_in_flight"))


def rebuild(*, dry_run: bool = False, min_age: timedelta = SETTLED) -> Report:
    """Repair what a crash left (see the module's docstring). Safe while traffic runs: what is younger than
    `min_age` may be an action still in flight (a submit whose application is not written yet, an approval that
    took its row and has not moved the engine yet) and is left alone; the case-state writer's own fences cover the
    rest. `min_age=0` repairs everything (with the API and workers stopped)."""
    report = Report()
    settled = clock.now() - min_age
    for app in Application.objects(status__in=OPEN, instance_id__ne=None):
        report.applications += 1
        _one(app, report, dry_run, settled)
    _close_rows_of_closed_cases(report, dry_run)
    linked = set(Application.objects(instance_id__ne=None).distinct("instance_id"))
    running = list(Instance.objects(application_id__ne=None, status__in=("running", "incident")).only(
        "id", "created_at"))
    for instance in running:
        if instance.id not in linked and clock.as_utc(instance.created_at) > settled:
            report.left_in_flight += 1      # a submit may still be writing its application
        elif instance.id not in linked:
            report.orphan_instances += 1
            if not dry_run:
                instances.cancel(Actor.system(), instance)
    # a process still running behind a case a person closed (a crash inside case_state.close)
    behind = Application.objects(instance_id__in=[i.id for i in running if i.id in linked],
                                 status__in=case_state.CLOSED_BY_PERSON).only("id", "instance_id")
    for app in behind:
        report.stopped_behind_closed += 1
        if not dry_run:
            case_state.stop_behind(app.id, app.instance_id)
    if report.differences and not dry_run:
        audit.record(None, "tasks.rebuild_projections", "human_tasks", "", **asdict(report))
    return report


def _one(app: Application, report: Report, dry_run: bool, settled) -> None:
    instance = Instance.objects(id=app.instance_id).first()
    if instance is None:
        report.unrestorable += 1
        return
    if instance.status == "completed":
        ready = []
    else:
        try:
            spec_json = processes.spec_json_by_id(instance.process_version_id)
            workflow = DEFAULT_ENGINE.restore(spec_json, instance.state_json)
        except Exception:   # noqa: BLE001 — shown as the instance's incident; nothing to project from
            report.unrestorable += 1
            return
        ready = DEFAULT_ENGINE.ready_tasks(workflow)
    if instance.status != "completed" and app.instance_revision is not None \
            and app.instance_revision < instance.revision:
        # a step the case never saw (a crash after the instance's write): the writer brings it along, with the
        # messages it owes ("a task opened" …; their dedupe keys make a repeat a no-op). A case written before
        # revisions were kept (None) is repaired below as before, without messages nobody missed
        report.cases_followed += 1
        if not dry_run:
            instance.ready = ready
            case_state.follow(app, instance, carry_messages=True)
            app.reload()
    case = cases.case_info(app, instance.process_version_id)
    waiting = {t["id"] for t in ready}
    rows = {r.task_id: r for r in HumanTask.objects(instance_id=instance.id)}
    returned_task = app.return_request.task_id if app.status == "returned" and app.return_request else None

    missing = [t for t in ready if t["id"] not in rows]
    stale = [r for r in rows.values() if r.status in ("open", "returned") and r.task_id not in waiting]
    # taken (done) while the engine never moved: the approval died in between; the task must be open again
    reopen = [r for r in rows.values() if r.status == "done" and r.task_id in waiting]
    in_flight = [r for r in reopen if r.completed_at is not None and clock.as_utc(r.completed_at) > settled]
    report.left_in_flight += len(in_flight)          # an approval that has just taken its row may still be running
    reopen = [r for r in reopen if r not in in_flight]
    report.rows_added += len(missing)
    report.rows_cancelled += len(stale)
    report.rows_reopened += len(reopen)
    if not dry_run:
        if missing:
            projection.sync(case, missing, ())
        for row in stale:
            HumanTask.objects(id=row.id).update_one(set__status="cancelled", set__completed_at=clock.now(),
                                                    inc__version=1)
        for row in reopen:
            HumanTask.objects(id=row.id).update_one(
                set__status="returned" if row.task_id == returned_task else "open", set__outcome=None,
                set__completed_by=None, set__completed_at=None, inc__version=1)

    _decisions_into_timeline(app, [r for r in rows.values() if r not in reopen], waiting, report, dry_run)
    steps = cases.steps_from(projection.rows(case, ready))
    if [s.task_id for s in steps] != [s.task_id for s in app.current_steps]:
        report.steps_fixed += 1
        if not dry_run:
            Application.objects(id=app.id).update_one(set__current_steps=steps, inc__version=1)
    if instance.status == "completed":
        report.finished += 1
        if not dry_run:      # the result is the end the process reached, as the writer says for every step
            instance.ready = []
            case_state.follow(app.reload(), instance, carry_messages=True)


def _close_rows_of_closed_cases(report: Report, dry_run: bool) -> None:
    """Open rows whose case has ended (a crash between the case's write and the rows'): cancelled. Read from the
    open rows, so the cost follows the open work, not every case ever decided."""
    open_apps = HumanTask.objects(status__in=("open", "returned"), __raw__=PROCESS_ROWS).distinct("application_id")
    closed = Application.objects(id__in=open_apps, status__nin=OPEN).scalar("id") if open_apps else []
    for app_id in closed:
        found = HumanTask.objects(application_id=app_id, status__in=("open", "returned"), __raw__=PROCESS_ROWS)
        report.rows_of_closed_cases += found.count()
        if not dry_run:
            found.update(set__status="cancelled", set__completed_at=clock.now(), inc__version=1)


def _decisions_into_timeline(app: Application, rows: list, waiting: set, report: Report, dry_run: bool) -> None:
    """A row taken as approved or rejected whose task the engine moved past is a decision that happened; the
    timeline shows each (element, person, decision) as often as the rows do."""
    decided = Counter((r.element_id, r.completed_by, r.outcome) for r in rows
                      if r.status == "done" and r.outcome in ("approved", "rejected") and r.task_id not in waiting)
    shown = Counter((e.element_id, e.actor_id, e.action) for e in app.timeline)
    for row in rows:
        key = (row.element_id, row.completed_by, row.outcome)
        if decided[key] <= shown[key]:
            continue
        shown[key] += 1
        report.decisions_added += 1
        if not dry_run:
            Application.objects(id=app.id).update_one(push__timeline=Event(
                at=row.completed_at or clock.now(), action=row.outcome, step=row.name, element_id=row.element_id,
                department=row.candidate_departments[0] if row.candidate_departments else "",
                actor_id=row.completed_by, actor_name=""), inc__version=1)
