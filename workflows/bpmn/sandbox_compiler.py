"""The sandbox's compiler: RestrictedPython's rules plus ours, applied when a script or expression is compiled
(at upload, by validation, and before it first runs). What it refuses never runs; what it lets through calls the
guards (workflows/bpmn/guards.py) for every attribute, item, iteration, operator and loop step. See sandbox.py."""
from __future__ import annotations

import ast
import builtins
import functools
import re

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from workflows.bpmn import guards


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
def compile_source(source: str, mode: str, max_depth: int = 100):
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
