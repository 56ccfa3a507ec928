"""What one sandboxed evaluation may use, and the checks that hold data to it.

Kept apart from the sandbox so the engine service can check data coming in from outside (start data, form data,
message payloads) with the same rules that bound what scripts produce.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Limits:
    cpu_ms: int = 100                   # CPU time of the calling thread per evaluation
    max_int_bits: int = 4096            # ~1233 decimal digits
    max_str: int = 1_000_000            # characters in one string
    max_items: int = 100_000            # elements in one list, tuple, dict or set
    max_range: int = 100_000            # len(range(...))
    alloc_budget: int = 32_000_000      # characters/elements one evaluation may create through guarded operations
    max_source: int = 64_000            # characters of one script
    max_expression: int = 10_000        # characters of one expression (condition, timer, DMN cell …)
    max_depth: int = 100                # nesting of one expression or script (the compilers recurse per level)
    max_data_bytes: int = 2_000_000     # estimated JSON size of a task's data
    max_data_depth: int = 40            # nesting of task data
    max_data_nodes: int = 200_000       # values in a task's data (aliases counted every time they appear)
    max_print: int = 64_000             # characters print() may collect
    max_compare: int = 1_000_000        # items (and characters / 8) one comparison, sort or hash may walk
    # one engine action (start, complete, message, timers): a loop drawn in BPMN has cheap expressions each time
    action_cpu_ms: int = 2_000          # CPU time of all engine steps of one action
    max_steps: int = 1_000              # engine steps (script tasks, gateways, events) in one action
    max_tasks: int = 5_000              # task objects in one workflow (every copy holds its own task data)
    max_task_depth: int = 900           # SpiffWorkflow stops looking for tasks 1000 levels down the task tree
    max_call_depth: int = 20            # call activities (and subprocesses) nested in one another
    max_instances: int = 500            # children of one parallel multi-instance task
    max_fanout_bytes: int = 50_000_000  # instances x task data they each copy
    max_state_bytes: int = 10_000_000   # serialized state of one instance (MongoDB documents stop at 16 MB)


DEFAULT_LIMITS = Limits()


class SandboxViolation(Exception):
    """A script or expression broke a sandbox rule; the run stops and an incident is recorded."""

    kind = "sandbox"

    def __init__(self, message: str, *, kind: str | None = None):
        super().__init__(message)
        if kind:
            self.kind = kind


class DataLimitExceeded(SandboxViolation):
    kind = "data_limit"


SCALARS = (str, int, float, bool, type(None), Decimal, date, datetime, timedelta)


def check_data(value, limits: Limits = DEFAULT_LIMITS, *, what: str = "data") -> int:
    """Raise DataLimitExceeded unless `value` is plain data (JSON types, dates, Decimal) within the limits.

    Walks iteratively (a 100,000-level nesting must not blow the stack) and counts aliases every time they
    appear, because serialization will write them out every time. Returns the estimated JSON size.
    """
    size, nodes = 0, 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_data_nodes:
            raise DataLimitExceeded(f"{what}: more than {limits.max_data_nodes} values")
        if depth > limits.max_data_depth:
            raise DataLimitExceeded(f"{what}: nested deeper than {limits.max_data_depth} levels")
        kind = type(item)
        if kind is str:
            size += len(item) + 2
            if len(item) > limits.max_str:
                raise DataLimitExceeded(f"{what}: a string longer than {limits.max_str} characters")
        elif kind is dict:
            if len(item) > limits.max_items:
                raise DataLimitExceeded(f"{what}: a mapping with more than {limits.max_items} entries")
            size += 2
            for key, sub in item.items():
                if type(key) is not str:
                    raise DataLimitExceeded(f"{what}: keys must be strings, not {type(key).__name__}")
                size += len(key) + 4
                stack.append((sub, depth + 1))
        elif kind in (list, tuple):
            if len(item) > limits.max_items:
                raise DataLimitExceeded(f"{what}: a list with more than {limits.max_items} items")
            size += 2 + len(item)
            stack.extend((sub, depth + 1) for sub in item)
        elif kind is int:
            if item.bit_length() > limits.max_int_bits:
                raise DataLimitExceeded(f"{what}: an integer larger than {limits.max_int_bits} bits")
            size += 8
        elif kind in SCALARS:
            size += 24
        else:
            raise DataLimitExceeded(f"{what}: values of type {kind.__name__} cannot be kept in process data")
        if size > limits.max_data_bytes:
            raise DataLimitExceeded(f"{what}: larger than {limits.max_data_bytes} bytes")
    return size


def set_checked(task, data: dict, limits: Limits) -> None:
    """Merge `data` into a task's data, each within the limits: what is sent, and what the task then holds."""
    check_data(data, limits, what="the task data")
    task.set_data(**data)
    check_data(task.data, limits, what="the task data")
