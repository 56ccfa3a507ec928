"""What the guards check before an operator or a method runs: the C code behind `+`, `*`, `**`, `<<`, `%`, `join`,
`replace`, `ljust`, `append`, `update` … cannot be interrupted once it runs, so the size of what it would build is
checked first, against the evaluation's `Run` (workflows/bpmn/guards.py)."""
from __future__ import annotations

import operator
import re
from decimal import Decimal
from typing import Protocol

from workflows.bpmn.limits import Limits


class Run(Protocol):
    """What the checks use of an evaluation's run (workflows/bpmn/guards.py `Run`, which imports this module)."""
    limits: Limits
    hashables: object

    def refuse(self, message: str, kind: str): ...
    def check_size(self, *args, **kwargs): ...
    def text_size(self, *args, **kwargs): ...
    def weigh(self, *args, **kwargs): ...

MAX_FORMAT_NUMBER = 1000        # widths and precisions in %-formats, f-string specs
PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


# --- checks before an operator runs (the C code behind it cannot be interrupted) ---

def _check_add(run: Run, left, right):
    if type(left) in (str, list, tuple) and type(right) is type(left):
        limit = run.limits.max_str if type(left) is str else run.limits.max_items
        if len(left) + len(right) > limit:
            run.refuse(f"the result would be longer than {limit}", "memory")


def _check_mul(run: Run, left, right):
    for seq, count in ((left, right), (right, left)):
        if type(seq) in (str, list, tuple) and type(count) in (int, bool):
            limit = run.limits.max_str if type(seq) is str else run.limits.max_items
            if len(seq) * max(count, 0) > limit:
                run.refuse(f"the result would be longer than {limit}", "memory")
            return
    if type(left) is int and type(right) is int:
        if left.bit_length() + right.bit_length() > run.limits.max_int_bits:
            run.refuse(f"an integer larger than {run.limits.max_int_bits} bits", "memory")


def _check_pow(run: Run, left, right):
    if type(left) in (int, bool) and type(right) in (int, bool) and right > 0 and abs(left) > 1:
        if left.bit_length() * right > run.limits.max_int_bits:
            run.refuse(f"an integer larger than {run.limits.max_int_bits} bits", "memory")
    if type(left) is Decimal or type(right) is Decimal:
        exponent = right if type(right) is not Decimal else (right if right.is_finite() else 0)
        if abs(exponent) > 10 ** 6:
            run.refuse("the exponent is too large", "memory")


def _check_lshift(run: Run, left, right):
    if type(left) is int and type(right) is int and right > 0 and left.bit_length() + right > run.limits.max_int_bits:
        run.refuse(f"an integer larger than {run.limits.max_int_bits} bits", "memory")


def _check_mod(run: Run, left, right):
    if type(left) is str:
        for width, precision in PERCENT_SPEC.findall(left):
            for number in (width, precision):
                if number == "*" or (number and int(number) > MAX_FORMAT_NUMBER):
                    run.refuse(f"format widths above {MAX_FORMAT_NUMBER} are not allowed")
        run.text_size(right)


BINOP_CHECKS = {"+": _check_add, "*": _check_mul, "**": _check_pow, "<<": _check_lshift, "%": _check_mod}
OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "<<": operator.lshift,
              ">>": operator.rshift, "|": operator.or_, "&": operator.and_, "^": operator.xor,
              "@": operator.matmul}


# --- methods that can build large values from small inputs: checked before they run ---

def _wrap_join(run, sep, method):
    def join(iterable):
        items = list(iterable)
        if len(items) > run.limits.max_items:
            run.refuse(f"join() of more than {run.limits.max_items} items", "memory")
        total = len(sep) * max(len(items) - 1, 0) + sum(len(i) if type(i) is str else 0 for i in items)
        if total > run.limits.max_str:
            run.refuse(f"the result would be longer than {run.limits.max_str}", "memory")
        return run.check_size(method(items))
    return join


def _wrap_replace(run, text, method):
    def replace(old, new, count=-1):
        if type(old) is str and type(new) is str:
            worst = len(text) + (len(text) + 1) * max(len(new) - len(old), 0)
            if worst > run.limits.max_str:
                run.refuse(f"the result could be longer than {run.limits.max_str}", "memory")
        return run.check_size(method(old, new, count))
    return replace


def _wrap_width(run, text, method):
    def pad(width, *fill):
        if type(width) is int and width > run.limits.max_str:
            run.refuse(f"the result would be longer than {run.limits.max_str}", "memory")
        return run.check_size(method(width, *fill))
    return pad


def _wrap_grow(run, container, method):
    def grow(*args, **kwargs):
        result = method(*args, **kwargs)
        if len(container) > run.limits.max_items:
            run.refuse(f"a collection with more than {run.limits.max_items} items", "memory")
        return result
    return grow


def _wrap_copy(run, container, method):
    def copy():
        return run.check_size(method())
    return copy


def _wrap_weighed(run, container, method):
    def call(*args, **kwargs):
        for arg in args:
            run.weigh(arg)
        return method(*args, **kwargs)
    return call


def _wrap_searched(run, container, method):
    def call(*args, **kwargs):
        run.weigh(container)     # index/count/remove compare the argument with every item
        return _wrap_weighed(run, container, method)(*args, **kwargs)
    return call


def _wrap_set_operation(run, container, method):
    def call(*others):
        return method(*(o if type(o) in (set, frozenset) else run.hashables(o) for o in others))
    return call


def _wrap_dict_update(run, container, method):
    def update(other=(), **kwargs):
        if type(other) is not dict:
            pairs = [tuple(pair) for pair in run.check_size(list(other))]
            run.hashables(pair[0] if len(pair) == 2 else None for pair in pairs)
            other = pairs
        result = method(other, **kwargs)
        if len(container) > run.limits.max_items:
            run.refuse(f"a collection with more than {run.limits.max_items} items", "memory")
        return result
    return update


WRAPPERS = {(str, "join"): _wrap_join, (str, "replace"): _wrap_replace}
WRAPPERS.update({(str, name): _wrap_width for name in ("ljust", "rjust", "center", "zfill")})
WRAPPERS.update({(list, name): _wrap_grow for name in ("append", "extend", "insert")})
WRAPPERS.update({(list, name): _wrap_searched for name in ("index", "count", "remove", "sort")})
WRAPPERS.update({(tuple, name): _wrap_searched for name in ("index", "count")})
WRAPPERS.update({(dict, name): _wrap_weighed for name in ("get", "pop")})
WRAPPERS.update({(set, name): _wrap_weighed for name in ("discard", "remove")})
WRAPPERS[(dict, "update")] = _wrap_dict_update
WRAPPERS.update({(kind, name): _wrap_set_operation for kind in (set, frozenset) for name in (
    "union", "intersection", "difference", "symmetric_difference", "issubset", "issuperset", "isdisjoint")})
WRAPPERS[(set, "update")] = lambda run, container, method: _wrap_grow(
    run, container, _wrap_set_operation(run, container, method))
WRAPPERS[(set, "add")] = lambda run, container, method: _wrap_grow(
    run, container, _wrap_weighed(run, container, method))
WRAPPERS[(dict, "setdefault")] = lambda run, container, method: _wrap_grow(
    run, container, _wrap_weighed(run, container, method))
WRAPPERS.update({(kind, "copy"): _wrap_copy for kind in (list, dict, set)})
