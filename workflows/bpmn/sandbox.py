"""The one sandboxed script engine: every script, condition, timer, multi-instance expression and DMN cell.

Uploaded BPMN is code (SpiffWorkflow runs it with eval/exec). Here it is compiled with RestrictedPython plus our
own rules (no names starting with '_', no import, class, try, with or yield, operators that could build huge
values go through size checks, f-string widths are bounded), and run with guarded attribute, item and iteration
access, a few whitelisted builtins and helper functions (never modules), a CPU-time budget and size limits.

The CPU budget is a tracing counter compiled into the code: every loop iteration, comprehension step, function
and lambda call first calls `_tick_()`, which checks the calling thread's CPU time every few ticks. It needs no
signals (signal.setitimer reaches only the main thread, not gunicorn worker threads) and no sys.settrace (which
skips `while True: pass` on Python 3.11, since that loop emits no line events, and which Python removes when the
trace function raises). Everything else a script can run is bounded by the size checks. Scripts cannot catch
exceptions (`try` is refused), so a refusal always ends the evaluation; and the first refusal is re-raised at the
end even if it was somehow swallowed.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                               DurationTimerEventDefinition,
                                                               TimeDateEventDefinition)

from core import workdays
from workflows.bpmn import guards
from workflows.bpmn.helpers import HELPERS
from workflows.bpmn.limits import DEFAULT_LIMITS, Limits, SandboxViolation, check_data
from workflows.bpmn.sandbox_compiler import SandboxCompileError, compile_source

_ACTION = threading.local()   # the CPU deadline of the engine action this thread is running, if any


@contextmanager
def action_budget(limits: Limits):
    """One CPU budget for everything an engine action evaluates (start, complete, message, timers). Every
    evaluation draws on it where it is spent: one business rule task with hundreds of costly DMN cells, or one
    gateway with hundreds of costly conditions, ran 11-18 s when only the steps between tasks were checked.
    Nested use keeps the outermost budget. The working-day calendar the helpers read is refreshed first (at most
    once a minute, one query), outside the budget: a script never reads the database."""
    if getattr(_ACTION, "deadline", None) is not None:
        yield _ACTION.deadline
        return
    workdays.refresh(quiet=True)
    _ACTION.deadline = time.thread_time() + limits.action_cpu_ms / 1000
    try:
        yield _ACTION.deadline
    finally:
        _ACTION.deadline = None


def action_over(limits: Limits) -> str:
    return f"the action used more than {limits.action_cpu_ms} ms of CPU time (all its expressions together)"


class Sandbox:
    """Compile and run scripts and expressions under the limits."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, helpers: dict | None = None):
        self.limits = limits
        self.helpers = dict(HELPERS if helpers is None else helpers)

    def compile(self, source, mode: str = "eval"):
        """The code object, or SandboxCompileError (with lineno) for anything the sandbox refuses."""
        if not isinstance(source, str):
            raise SandboxCompileError("expected text")
        if len(source) > self.limits.max_source:
            raise SandboxCompileError(f"longer than {self.limits.max_source} characters")
        if mode == "eval":
            source = source.strip()
            if len(source) > self.limits.max_expression:
                raise SandboxCompileError(f"an expression longer than {self.limits.max_expression} characters "
                                          "(use a script task for long logic)")
        return compile_source(source, mode, self.limits.max_depth)

    def evaluate(self, expression: str, context: dict, external: dict | None = None):
        code = self.compile(expression, "eval")
        run = guards.Run(self.limits)
        scope = self._scope(run, context, external)
        result = self._run(code, scope, run)
        if type(result) not in guards.FLAT:
            check_data(result, self.limits, what="the expression's value")
        return result

    def execute(self, script: str, context: dict, external: dict | None = None) -> str:
        """Run a script over `context` (task data), which it may change; returns what it printed."""
        code = self.compile(script, "exec")
        run = guards.Run(self.limits)
        protected = guards.build(run, self.helpers)
        scope = {**context, **(external or {}), **protected}
        self._run(code, scope, run)
        result = {k: v for k, v in context.items() if k.startswith("_")}
        for key, value in scope.items():
            if key.startswith("_") or callable(value) or (key in protected and value is protected[key]):
                continue
            if external and key in external and value is external[key]:
                continue
            result[key] = value
        check_data(result, self.limits, what="the task data after the script")
        context.clear()
        context.update(result)
        return "".join(run.printed)

    def _scope(self, run, context, external):
        scope = dict(context)
        if external:
            scope.update(external)
        scope.update(guards.build(run, self.helpers))
        return scope

    def _run(self, code, scope, run: guards.Run):
        now = time.thread_time()
        run.deadline = now + self.limits.cpu_ms / 1000
        action = getattr(_ACTION, "deadline", None)
        if action is not None:
            if now > action:
                raise SandboxViolation(action_over(self.limits), kind="timeout")
            if action < run.deadline:
                run.deadline, run.over = action, action_over(self.limits)
        try:
            result = eval(code, scope)
        except SandboxViolation:
            raise
        except Exception:
            if run.violation is not None:
                raise run.violation from None
            raise
        except BaseException as e:
            # SystemExit, KeyboardInterrupt, GeneratorExit: SpiffWorkflow catches only Exception, and these
            # would reach the web worker. An ordinary error stops the run instead.
            raise SandboxViolation(f"{type(e).__name__} raised inside a script", kind="exit") from None
        if run.violation is not None:
            raise run.violation
        if action is not None and time.thread_time() > action:
            raise SandboxViolation(action_over(self.limits), kind="timeout")
        return result


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's environment interface, backed by the sandbox (some Spiff code calls it directly)."""

    def __init__(self, sandbox: Sandbox):
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression, context, external_context=None):
        return self.sandbox.evaluate(expression, context, external_context)

    def execute(self, script, context, external_context=None):
        self.sandbox.execute(script, context, external_context)
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("service tasks are not supported")


class SandboxScriptEngine(PythonScriptEngine):
    """The script engine every workflow gets, at creation and after every restore."""

    def __init__(self, sandbox: Sandbox | None = None):
        super().__init__(environment=SandboxEnvironment(sandbox or Sandbox()))

    @property
    def sandbox(self) -> Sandbox:
        return self.environment.sandbox

    def validate(self, expression):
        # DMN uses this to decide whether a cell needs '=='; a refusal must be a SyntaxError, as from ast.parse.
        self.sandbox.compile(expression, "eval")

    def evaluate(self, task, expression, external_context=None):
        result = super().evaluate(task, expression, external_context)
        definition = getattr(task.task_spec, "event_definition", None)
        if expression is not None and expression == getattr(definition, "expression", None):
            _check_timer(definition, result, task)
        if expression is not None and expression == getattr(task.task_spec, "cardinality", None):
            # a loop cardinality becomes range(n) of child tasks, each with its own copy of the task data
            limit = self.sandbox.limits.max_instances
            if type(result) is not int or not 0 <= result <= limit:
                error = SandboxViolation(f"the loop cardinality must be a whole number from 0 to {limit}",
                                         kind="memory")
                error.task = task   # the incident names the element
                raise error
        return result

    def call_service(self, task, **kwargs):
        raise SandboxViolation("service tasks are not supported")


def _check_timer(definition, value, task):
    """SpiffWorkflow turns a timer's value into a date outside any error handling of its own: an absurd value
    ("P999999999999D", 10 ** 100) failed with a bare OverflowError that named no element. Try it here first."""
    try:
        if type(value) is not str or len(value) > 200:
            raise ValueError("a timer must be an ISO 8601 text")
        if isinstance(definition, DurationTimerEventDefinition):
            parsed = definition.parse_iso_duration(value)
            datetime.now(timezone.utc) + definition.get_timedelta_from_start(parsed)
        elif isinstance(definition, TimeDateEventDefinition):
            definition.parse_time_or_duration(value)
        elif isinstance(definition, CycleTimerEventDefinition):
            cycles, start, duration = definition.parse_iso_recurring_interval(value)
            (start + duration).isoformat()
            if duration.total_seconds() <= 0:   # due again the moment it fires: the action's budget, spent
                raise ValueError("a timer cycle needs a period longer than zero")
    except Exception as e:   # noqa: BLE001 — whatever the parser raises, the designer needs the element
        error = SandboxViolation(f"not a usable timer {value if type(value) is str else type(value).__name__!r:.60}: "
                                 f"{e}"[:300], kind="error")
        error.task = task
        raise error from None


def is_sandboxed(workflow) -> bool:
    return isinstance(workflow.script_engine, SandboxScriptEngine)
