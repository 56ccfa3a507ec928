"""Designers' test runs of a published process version: start, read, complete a task (同意 or 不同意, as an approver
would), deliver a message, fire timers ahead of time; purged a day after they start. Each action is the engine's
(workflows/bpmn/instances.py) on an instance marked `is_test`, under the designer account's engine budget."""
from __future__ import annotations

from datetime import datetime, timedelta

from core import audit, clock, db
from core.actor import Actor
from workflows.bpmn import instances, quotas, service, task_data
from workflows.bpmn.models import Instance

TEST_RUN_LIFETIME = timedelta(days=1)


def _test_run(actor: Actor, key: str, number: int, run_id: str) -> Instance:
    version = service.get_version(actor, key, number)        # designer of the department, or 404/403
    return db.found(Instance, run_id, is_test=True, process_version_id=version.id)


@quotas.account_budget
def start_test_run(actor: Actor, key: str, number: int, data: dict | None) -> dict:
    version = service.get_version(actor, key, number)
    instance = instances.start(actor, version, task_data.prepare_start(version, data), is_test=True)
    if instance.status == "incident":   # one rule for every action: an incident answers 422 (docs/bpmn.md)
        error = instances.incident_error(instance.incidents[-1], detailed=True)
        error.errors[0]["instance_id"] = str(instance.id)   # the run is kept: GET …/test-runs/{instance_id}
        raise error
    return instances.view(instance)


def get_test_run(actor: Actor, key: str, number: int, run_id: str) -> dict:
    return instances.view(_test_run(actor, key, number, run_id))


@quotas.account_budget
def complete_test_task(actor: Actor, key: str, number: int, run_id: str, task_id: str, data: dict | None,
                       expected_version: int | None = None, *, decision: str = "approve") -> dict:
    """As an approver's 同意/不同意 would (workflows/cases/tasks/service.py `complete`): the form's data, then the action's
    variables, and 不同意 ends the run unless the task routes rejections."""
    instance = _test_run(actor, key, number, run_id)
    version = service.get_version(actor, key, number)
    action = {"decision": decision, "approved": decision == "approve"}
    return instances.view(instances.complete_task(
        actor, instance, task_id, data, expected_version=expected_version, reject=decision == "reject",
        prepare=lambda task, given: {**task_data.for_task(version, task, given), **action}))


@quotas.account_budget
def message_test_run(actor: Actor, key: str, number: int, run_id: str, name: str, payload: dict | None) -> dict:
    return instances.view(instances.deliver_message(actor, _test_run(actor, key, number, run_id), name, payload))


@quotas.account_budget
def timers_test_run(actor: Actor, key: str, number: int, run_id: str, at: datetime | None) -> dict:
    """Fire the test run's timers due by `at`: a designer can skip ahead without waiting days."""
    return instances.view(instances.fire_timers(actor, _test_run(actor, key, number, run_id), at))


def purge_test_runs(now: datetime | None = None) -> int:
    """Delete test instances started more than a day ago (run by `zhangban worker` / cron)."""
    cutoff = (now or clock.now()) - TEST_RUN_LIFETIME
    count = Instance.objects(is_test=True, created_at__lt=cutoff).delete()
    if count:
        audit.record(None, "process.test_runs.purge", "process_instance", "", count=count)
    return count
