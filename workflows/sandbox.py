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

import ast
import builtins
import functools
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                               DurationTimerEventDefinition,
                                                               TimeDateEventDefinition)

from workflows import guards
from workflows.helpers import HELPERS
from workflows.limits import DEFAULT_LIMITS, Limits, SandboxViolation, check_data

FILENAME = "<string>"   # SpiffWorkflow looks for this name to report the failing line of a script

# Never usable, even as a data variable name in an expression: they only make sense as an attack.
FORBIDDEN_NAMES = frozenset((
    "open exec eval compile getattr setattr delattr hasattr vars dir globals locals exit quit breakpoint input "
    "help memoryview object super classmethod staticmethod property SystemExit KeyboardInterrupt GeneratorExit "
    "BaseException Exception builtins printed").split())
# Python builtins scripts do not get: calling one is refused at upload (as data they are ordinary names).
NOT_CALLABLE = frozenset(name for name in dir(builtins) if not name.startswith("_")) - {
    "len", "min", "max", "sum", "any", "all", "sorted", "round", "abs", "int", "float", "str", "bool", "list",
    "dict", "set", "tuple", "range", "enumerate", "zip", "reversed", "chr", "ord", "ValueError", "print"}
_GUARDED_OPS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
_LOCATED = re.compile(r"^Line (\d+|None)(?: col (\d+))?: (.*)$", re.S)


class SandboxCompileError(SyntaxError):
    """A script or expression the sandbox will not run. Carries lineno (SpiffWorkflow needs it) and offset."""

    def __init__(self, message: str, lineno: int = 1, offset: int = 0):
        super().__init__(message)
        self.msg, self.lineno, self.offset = message, lineno or 1, offset or 0

    def __str__(self):
        return f"line {self.lineno}: {self.msg}"


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules plus ours."""

    def error(self, node, info):
        self.errors.append(f"Line {getattr(node, 'lineno', None)} col {getattr(node, 'col_offset', 0)}: {info}")

    def check_name(self, node, name, allow_magic_methods=False):
        if name == "_":
            self.error(node, '"_" is not allowed as a name')
            return
        super().check_name(node, name, allow_magic_methods)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in FORBIDDEN_NAMES - {"printed"}:
            self.error(node, f'"{node.id}" is not available in scripts')
        return super().visit_Name(node)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in NOT_CALLABLE:
            self.error(node, f'"{node.func.id}()" is not available in scripts')
        return super().visit_Call(node)

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        symbol = _GUARDED_OPS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(symbol), node.left, node.right],
                        keywords=[])
        copy_locations(call, node)
        return call

    def visit_FormattedValue(self, node):
        node = self.node_contents_visit(node)
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if not all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
                self.error(node, "f-string format specs must be written out, not computed")
            elif any(int(n) > guards.MAX_FORMAT_NUMBER for p in parts for n in re.findall(r"\d+", p.value)):
                self.error(node, f"f-string widths above {guards.MAX_FORMAT_NUMBER} are not allowed")
        call = ast.Call(func=ast.Name("_fmtval_", ast.Load()), args=[node.value], keywords=[])
        copy_locations(call, node.value)
        node.value = call
        return node

    # --- comparisons and hashing walk whole values in C: weigh containers first (see guards.Run.weigh) ---

    @staticmethod
    def _call(name, node):
        call = ast.Call(func=ast.Name(name, ast.Load()), args=[node], keywords=[])
        copy_locations(call, node)
        return call

    def visit_Compare(self, node):
        node = self.node_contents_visit(node)
        node.left = self._call("_weigh_", node.left)
        node.comparators = [self._call("_weigh_", c) for c in node.comparators]
        return node

    def visit_Set(self, node):
        node = self.node_contents_visit(node)
        node.elts = [ast.Starred(self._call("_hashables_", e.value), e.ctx) if isinstance(e, ast.Starred)
                     else self._call("_weigh_", e) for e in node.elts]
        for e in node.elts:
            copy_locations(e, node)
        return node

    def visit_Dict(self, node):
        node = self.node_contents_visit(node)
        node.keys = [k if k is None else self._call("_weigh_", k) for k in node.keys]
        return node

    def visit_SetComp(self, node):
        node = super().visit_SetComp(node)
        node.elt = self._call("_weigh_", node.elt)
        return node

    def visit_DictComp(self, node):
        node = super().visit_DictComp(node)
        node.key = self._call("_weigh_", node.key)
        return node

    # --- the tracing counter ---

    @staticmethod
    def _tick(node):
        call = ast.Expr(ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[]))
        copy_locations(call, node)
        ast.fix_missing_locations(call)
        return call

    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, self._tick(node))
        return node

    def visit_For(self, node):
        node = super().visit_For(node)
        node.body.insert(0, self._tick(node))
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, self._tick(node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        tick = ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[])
        node.body = ast.BoolOp(op=ast.And(), values=[tick, node.body])
        copy_locations(node.body, node)
        copy_locations(tick, node)
        return node

    def visit_comprehension(self, node):
        node = super().visit_comprehension(node)
        tick = ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[])
        copy_locations(tick, node.target)
        node.ifs.insert(0, tick)
        return node

    def _refuse(self, what):
        def visit(self, node):
            self.error(node, f"{what} is not allowed in scripts")
            return node
        return visit

    visit_Import = visit_ImportFrom = _refuse(None, "import")
    visit_ClassDef = _refuse(None, "class")
    visit_Try = visit_TryStar = _refuse(None, "try")      # a caught timeout would leave the loop untraced
    visit_With = visit_AsyncWith = _refuse(None, "with")
    visit_Yield = visit_YieldFrom = _refuse(None, "yield")
    visit_AsyncFunctionDef = visit_AsyncFor = visit_Await = _refuse(None, "async")
    visit_Global = _refuse(None, "global")


def _too_deep(tree, max_depth: int):
    """The first node nested more than `max_depth` levels down, walked without recursion. RestrictedPython's
    transformer and Python's compiler recurse once per level: `a+a+…` with a thousand operators (2 KB) hit the
    recursion limit, a 500 at upload and a crash at run time."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return node
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str, max_depth: int = 100):
    """Compile once per distinct source (code objects are immutable and shared across threads)."""
    try:
        tree = ast.parse(source, FILENAME, mode)
    except SyntaxError as e:
        raise SandboxCompileError(e.msg, e.lineno or 1, e.offset or 0) from None
    except (ValueError, MemoryError, RecursionError) as e:
        raise SandboxCompileError(f"cannot be parsed: {e}"[:300]) from None
    deep = _too_deep(tree, max_depth)
    if deep is not None:
        raise SandboxCompileError(f"nested more than {max_depth} levels deep (split it into shorter expressions "
                                  "or script lines)", getattr(deep, "lineno", 1), getattr(deep, "col_offset", 0) + 1)
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(tree, FILENAME, policy=_Policy)
    except (RecursionError, MemoryError, ValueError) as e:   # a backstop: the depth check should keep these out
        raise SandboxCompileError(f"cannot be compiled: {type(e).__name__}") from None
    if result.errors:
        match = _LOCATED.match(result.errors[0])
        if match:
            line = int(match.group(1)) if match.group(1) != "None" else 1
            raise SandboxCompileError(match.group(3), line, int(match.group(2) or 0) + 1)
        raise SandboxCompileError(result.errors[0])
    return result.code


_ACTION = threading.local()   # the CPU deadline of the engine action this thread is running, if any


@contextmanager
def action_budget(limits: Limits):
    """One CPU budget for everything an engine action evaluates (start, complete, message, timers). Every
    evaluation draws on it where it is spent: one business rule task with hundreds of costly DMN cells, or one
    gateway with hundreds of costly conditions, ran 11-18 s when only the steps between tasks were checked.
    Nested use keeps the outermost budget."""
    if getattr(_ACTION, "deadline", None) is not None:
        yield _ACTION.deadline
        return
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
        return _compile(source, mode, self.limits.max_depth)

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
    except Exception as e:   # noqa: BLE001 — whatever the parser raises, the designer needs the element
        error = SandboxViolation(f"not a usable timer {value if type(value) is str else type(value).__name__!r:.60}: "
                                 f"{e}"[:300], kind="error")
        error.task = task
        raise error from None


def is_sandboxed(workflow) -> bool:
    return isinstance(workflow.script_engine, SandboxScriptEngine)
