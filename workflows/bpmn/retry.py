"""Running a process stopped at an incident again: on its own version, or on the newest published version of its
process when a designer has published one since (their fix) and the instance fits it.

The instance fits a newer version when every element it has run, waits on or has planned is still there (same
id): its tasks then keep their state and data under the new version's elements (`Engine.migrate`), so a waiting
timer keeps its due time and the step that failed runs again under the fixed definition. One conditional write
(on the instance's revision and its incident) moves it and sets it running; the worker's next pass runs it at
once. Elements the new version lacks keep it on its own version, and the caller says so.
"""
from __future__ import annotations

from dataclasses import dataclass

from core import clock
from workflows.bpmn import service
from workflows.bpmn.engine import DEFAULT_ENGINE
from workflows.bpmn.models import Instance, ProcessVersion


@dataclass(frozen=True)
class Retried:
    version: int                  # the published version the instance runs on now
    moved_from: int | None        # the version it left (None: it stayed)
    missing: tuple = ()           # elements a newer version lacks, which kept it on its own


def newest_version(key: str) -> ProcessVersion | None:
    return ProcessVersion.objects(key=key).exclude("bpmn_xml", "spec_json", "dmn").order_by("-version").first()


def retry(instance: Instance) -> Retried | None:
    """Set an instance at an incident running again (see the module's docstring); None when it is no longer at
    an incident (retried or ended meanwhile: nothing written)."""
    now = clock.now()
    fields = {"status": "running", "next_timer_at": now, "lease_until": None, "updated_at": now}
    newest = newest_version(instance.key)
    result = Retried(instance.process_version_number, None)
    if newest is not None and newest.version > instance.process_version_number:
        try:
            workflow = DEFAULT_ENGINE.restore(service.spec_json_by_id(instance.process_version_id),
                                              instance.state_json)
            missing = DEFAULT_ENGINE.migrate(workflow, service.spec_json(newest))
            state = None if missing else DEFAULT_ENGINE.dump(workflow)
        except Exception:   # noqa: BLE001 — a state the new version cannot hold stays on its own version
            missing, state = [instance.key], None
        if state is not None:
            fields.update(state_json=state, version_id=newest.id, process_version=newest.version)
            result = Retried(newest.version, instance.process_version_number)
        else:
            result = Retried(instance.process_version_number, None, tuple(missing))
    changed = Instance._get_collection().update_one(
        {"_id": instance.id, "version": instance.revision, "status": "incident"},
        {"$set": fields, "$inc": {"version": 1}}).modified_count
    return result if changed else None
