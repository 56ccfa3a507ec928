"""What a step did, for the instance's path: the BPMN elements it finished, when, and which data keys changed."""
from __future__ import annotations

import json
import time
from datetime import date, datetime, timezone
from decimal import Decimal

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState


def _all_tasks(workflow: BpmnWorkflow):
    """Every task of the workflow and its subprocesses. Not get_tasks(state=COMPLETED): that walks down only
    through finished tasks, and missed each countersign under its running multi-instance task and each firing of
    a cycle timer under its waiting boundary event."""
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


class PathRecorder:
    """What a step did: the BPMN elements it finished, when, and which data keys changed."""

    MAX_VALUE = 120
    MAX_KEY = 64
    MAX_NAME = 200
    # Up to MAX_PATH entries are kept beside a state of up to 10 MB in one 16 MB document: each entry stays small.
    MAX_CHANGES_CHARS = 1_000

    def __init__(self, workflow: BpmnWorkflow):
        self.started = time.time()
        self.before = {t.id for t in _all_tasks(workflow) if t.state == TaskState.COMPLETED}

    def entries(self, workflow: BpmnWorkflow) -> list[dict]:
        done = [t for t in _all_tasks(workflow) if t.state == TaskState.COMPLETED and t.id not in self.before]
        done.sort(key=lambda t: t.last_state_change or 0)
        out = []
        for task in done:
            spec = task.task_spec
            if not getattr(spec, "bpmn_id", None):
                continue   # Spiff's own bookkeeping tasks (Root, Start, End, splits)
            changes = self._changes(task.parent.data, task.data) if task.parent is not None else {}
            lane = getattr(spec, "lane", None)
            out.append({"element_id": spec.bpmn_id[:self.MAX_NAME],          # ids are checked at validation;
                        "name": (spec.bpmn_name or spec.bpmn_id)[:self.MAX_NAME],   # versions before were not
                        "type": type(spec).__name__, "lane": lane[:self.MAX_NAME] if lane else lane,
                        "at": datetime.fromtimestamp(task.last_state_change or time.time(), timezone.utc),
                        "changes": changes})
        return out

    def _changes(self, before: dict, after: dict) -> dict:
        changes, used, left = {}, 0, 0
        updated = [(key, self._short(after.get(key))) for key in DeepMerge.get_updated_keys(before, after)]
        for key, value in updated + [(key, None) for key in DeepMerge.get_deleted_keys(before, after)]:
            key = self._key(key)[:self.MAX_KEY]
            used += len(key) + (len(value) if isinstance(value, str) else 8)
            if used > self.MAX_CHANGES_CHARS:
                left += 1
                continue
            changes[key] = value
        if left:
            changes["…"] = f"{left} more"
        return changes

    # The path is stored as BSON, which refuses what task data may hold: keys starting with "$" or holding NUL,
    # integers beyond 64 bits, unpaired surrogates. Escaped as the audit log does (they were a 500 on the write).
    @staticmethod
    def _key(key) -> str:
        key = _valid_text(str(key))
        return ("\uff04" + key[1:] if key.startswith("$") else key).replace("\x00", "\ufffd")

    @classmethod
    def _short(cls, value):
        if isinstance(value, (float, bool)) or value is None:
            return value
        if isinstance(value, int):
            return value if -2 ** 63 <= value < 2 ** 63 else str(value)
        if isinstance(value, (Decimal, date)):
            return str(value)
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        return _valid_text(text if len(text) <= cls.MAX_VALUE else text[: cls.MAX_VALUE] + "…")


def _valid_text(text: str) -> str:
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")
