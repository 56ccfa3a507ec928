"""The guards RestrictedPython calls, and the builtins scripts may use.

Everything here is built per evaluation around one `Run` (its limits and allocation budget), so a guard can
charge what it creates and the sandbox can tell, after the script, that a refused operation happened even if the
script went on. Attribute access is an allow-list by exact type: anything not listed (generators, frames,
functions, types, modules, exceptions) has no attributes at all from a script.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from workflows.bpmn.guard_ops import MAX_FORMAT_NUMBER  # noqa: F401 — the compiler reads it here
from workflows.bpmn.guard_ops import BINOP_CHECKS, OPERATORS, WRAPPERS
from workflows.bpmn.limits import Limits, SandboxViolation

NUMBERS = (int, float, Decimal, bool)
FLAT = (str, int, float, bool, type(None), Decimal, date, datetime, timedelta)
_CONTAINERS = (list, tuple, dict, set, frozenset)

STR_ATTRS = frozenset((
    "capitalize casefold count endswith find index isalnum isalpha isdecimal isdigit islower isnumeric isspace "
    "istitle isupper lower lstrip partition removeprefix removesuffix rfind rindex rpartition rsplit rstrip split "
    "splitlines startswith strip swapcase title upper join replace ljust rjust center zfill").split())
LIST_ATTRS = frozenset("append extend insert pop remove index count sort reverse copy clear".split())
DICT_ATTRS = frozenset("get keys values items pop popitem setdefault update copy clear".split())
SET_ATTRS = frozenset(("add discard remove pop clear copy union intersection difference symmetric_difference "
                       "issubset issuperset isdisjoint update").split())
ALLOWED_ATTRS = {
    str: STR_ATTRS, list: LIST_ATTRS, dict: DICT_ATTRS, set: SET_ATTRS, frozenset: SET_ATTRS - {
        "add", "discard", "remove", "pop", "clear", "update"},
    tuple: frozenset({"count", "index"}),
    float: frozenset({"is_integer"}),
    Decimal: frozenset({"quantize", "to_integral_value", "is_nan", "is_signed", "copy_abs", "sqrt"}),
    date: frozenset({"year", "month", "day", "weekday", "isoweekday", "isoformat", "replace"}),
    datetime: frozenset({"year", "month", "day", "hour", "minute", "second", "microsecond", "weekday",
                         "isoweekday", "isoformat", "replace", "date", "timestamp"}),
    timedelta: frozenset({"days", "seconds", "microseconds", "total_seconds"}),
}
_DIGITS = re.compile(r"\d+")


class Run:
    """The state of one evaluation: its limits, what it has created so far, the first rule it broke."""

    __slots__ = ("limits", "allocated", "violation", "deadline", "events", "printed", "over")

    def __init__(self, limits: Limits):
        self.limits = limits
        self.allocated = 0
        self.violation: SandboxViolation | None = None
        self.deadline = 0.0
        self.events = 0
        self.printed: list[str] = []
        self.over = f"the script used more than {limits.cpu_ms} ms of CPU time"   # what passing the deadline means

    def refuse(self, message: str, kind: str = "sandbox"):
        """Remember the first violation (the sandbox re-raises it even if the script swallowed it)."""
        error = SandboxViolation(message, kind=kind)
        if self.violation is None:
            self.violation = error
        raise error

    def tick(self):
        self.events += 1
        if not self.events & 15 and time.thread_time() > self.deadline:
            self.refuse(self.over, "timeout")
        return True

    def charge(self, amount: int):
        self.allocated += amount
        if amount > 10_000 and time.thread_time() > self.deadline:
            self.refuse(self.over, "timeout")
        if self.allocated > self.limits.alloc_budget:
            self.refuse(f"the script created more than {self.limits.alloc_budget} characters or items",
                        "memory")

    def check_size(self, value):
        """Refuse a str/list/tuple/dict/set or int beyond the limits; charge what was created."""
        kind = type(value)
        if kind is str:
            if len(value) > self.limits.max_str:
                self.refuse(f"a string longer than {self.limits.max_str} characters", "memory")
            self.charge(len(value))
        elif kind in (list, tuple, dict, set, frozenset):
            if len(value) > self.limits.max_items:
                self.refuse(f"a collection with more than {self.limits.max_items} items", "memory")
            self.charge(len(value))
        elif kind is int and value.bit_length() > self.limits.max_int_bits:
            self.refuse(f"an integer larger than {self.limits.max_int_bits} bits", "memory")
        return value

    def weigh(self, value):
        """Refuse a container whose comparison or hashing could run too long in C, where the CPU limit cannot
        reach: `==`, `in`, `<`, sorted(), hash() walk every nested item and compare every character, and aliases
        (`t = (t, t)` 60 times, `[s] * 100000` of a 1 MB string) multiply that without allocating anything."""
        if type(value) not in _CONTAINERS:
            return value
        cap, total, stack, seen = self.limits.max_compare, 0, [value], 0
        while stack:
            item = stack.pop()
            kind = type(item)
            total += 1
            seen += 1
            if not seen & 0xFFFF and time.thread_time() > self.deadline:
                self.refuse(self.over, "timeout")
            if kind is str:
                total += len(item) >> 3       # memcmp: eight characters cost about one item
            elif kind is dict:
                total += len(item)
                stack.extend(item.keys())
                stack.extend(item.values())
            elif kind in _CONTAINERS:
                total += len(item)
                stack.extend(item)
            if total > cap:
                self.refuse("a value too large to compare or hash", "memory")
        return value

    def hashables(self, items) -> list:
        """The items, refused if weighing them fails or many distinct ones share one hash: a hash table of
        colliding keys (i * (2**61 - 1), crafted tuples) is quadratic in C, beyond the CPU limit's reach."""
        items = list(items)
        self.check_size(items)
        self.weigh(items)
        if len(items) > 64:
            for code, count in Counter(map(hash, items)).items():
                if count > 16:
                    group = [item for item in items if hash(item) == code]
                    if any(item != group[0] for item in group):
                        self.refuse("too many different values with the same hash", "memory")
        return items

    def text_size(self, value) -> int:
        """An upper estimate of len(str(value)), refusing values whose text would be too long."""
        cap, total, stack, seen = self.limits.max_str, 0, [value], 0
        while stack:
            item = stack.pop()
            seen += 1
            kind = type(item)
            if kind is str:
                total += len(item) + 2
            elif kind is dict:
                total += 2 + 4 * len(item)
                stack.extend(item.keys())
                stack.extend(item.values())
            elif kind in (list, tuple, set, frozenset):
                total += 2 + 2 * len(item)
                stack.extend(item)
            elif kind is int:
                total += item.bit_length() // 3 + 2
            elif kind is Decimal:
                total += 40 + (max(0, item.adjusted()) if item.is_finite() else 0)
            else:
                total += 40
            if total > cap or seen > self.limits.max_data_nodes:
                self.refuse(f"a text longer than {cap} characters", "memory")
        return total


def build(run: Run, helpers: dict) -> dict:
    """The globals every evaluation gets: guards (names starting with '_', unreachable from scripts),
    whitelisted builtins and helper functions."""
    limits = run.limits

    def getattr_(obj, name, *default):
        allowed = ALLOWED_ATTRS.get(type(obj))
        if allowed is None or name not in allowed or name.startswith("_"):
            run.refuse(f"attribute {name!r} of {type(obj).__name__} is not available in scripts")
        value = getattr(obj, name)
        wrap = WRAPPERS.get((type(obj), name))
        return wrap(run, obj, value) if wrap else value

    def getitem_(obj, key):
        if type(obj) not in (str, list, tuple, dict, range):
            run.refuse(f"items of {type(obj).__name__} are not available in scripts")
        run.weigh(key)
        value = obj[key]
        if type(key) is slice:
            run.check_size(value)
        return value

    def write_(obj):
        if type(obj) not in (list, dict):
            run.refuse(f"{type(obj).__name__} cannot be changed by scripts")
        return obj

    def getiter_(obj):
        return iter(obj)

    def binop_(op, left, right):
        check = BINOP_CHECKS.get(op)
        if check:
            check(run, left, right)
        return run.check_size(OPERATORS[op](left, right))

    def inplacevar_(op, left, right):
        return binop_(op[:-1], left, right)

    def fmtval_(value):
        # f"{x}" turns x into text before anything else sees it: bound it first.
        if type(value) not in (str, int, float, bool, type(None)):
            run.text_size(value)
        return value

    def apply_(func, *args, **kwargs):
        return func(*args, **kwargs)

    def print_(_getattr_=None):
        return _Printer(run, str_)

    def range_(*args):
        try:
            result = range(*args)
            size = len(result)
        except OverflowError:
            size = limits.max_range + 1
        if size > limits.max_range:
            run.refuse(f"range() of more than {limits.max_range} numbers", "memory")
        return result

    def str_(value=""):
        if type(value) not in FLAT:
            run.text_size(value)
        return run.check_size(str(value))

    def int_(value=0, *base):
        if type(value) is Decimal and value.is_finite() and value.adjusted() > limits.max_int_bits // 3:
            run.refuse("the number is too large for int()", "memory")
        return run.check_size(int(value, *base))

    def round_(value, ndigits=None):
        if ndigits is not None and (type(ndigits) is not int or abs(ndigits) > 100):
            run.refuse("round() takes at most 100 digits")
        if ndigits is None and type(value) is Decimal and value.is_finite() and \
                value.adjusted() > limits.max_int_bits // 3:
            run.refuse("the number is too large for round()", "memory")
        return round(value) if ndigits is None else round(value, ndigits)

    def sum_(iterable, start=0):
        total = start
        if type(total) not in NUMBERS:
            run.refuse("sum() adds numbers only")
        for item in iterable:
            if type(item) not in NUMBERS:
                run.refuse("sum() adds numbers only")
            total = total + item
        return run.check_size(total)

    def collector(kind):
        def make(*args, **kwargs):
            return run.check_size(kind(*args, **kwargs))
        make.__name__ = kind.__name__
        return make

    def sorted_(iterable, *, key=None, reverse=False):
        items = run.check_size(list(iterable))
        return run.check_size(sorted(run.weigh(items), key=key, reverse=reverse))

    def extreme(pick):
        def choose(*args, **kwargs):
            run.weigh(args[0] if len(args) == 1 and type(args[0]) in _CONTAINERS else args)
            return pick(*args, **kwargs)
        choose.__name__ = pick.__name__
        return choose

    def hashed(kind):
        def make(iterable=(), **kwargs):
            if kind is dict:
                if type(iterable) is not dict:
                    pairs = [tuple(pair) for pair in run.check_size(list(iterable))]
                    run.hashables(pair[0] if len(pair) == 2 else None for pair in pairs)
                    iterable = pairs
                return run.check_size(dict(iterable, **kwargs))
            if type(iterable) not in (set, frozenset):
                iterable = run.hashables(iterable)
            return run.check_size(kind(iterable))
        make.__name__ = kind.__name__
        return make

    def value_error(message=""):
        # the message is turned into text when the incident is recorded, outside any limit: bound it now
        return ValueError(str_(message))

    def hashables_(items):
        return run.hashables(items)

    builtins = {
        "len": len, "min": extreme(min), "max": extreme(max), "sum": sum_, "any": any, "all": all,
        "sorted": sorted_, "round": round_, "abs": abs, "int": int_, "float": float, "str": str_, "bool": bool,
        "list": collector(list), "dict": hashed(dict), "set": hashed(set), "tuple": collector(tuple),
        "range": range_, "enumerate": enumerate, "zip": zip, "reversed": reversed, "chr": chr, "ord": ord,
        "ValueError": value_error, "True": True, "False": False, "None": None,
    }
    return {
        "__builtins__": builtins,
        "__name__": "bpmn_script",
        "_getattr_": getattr_, "_getitem_": getitem_, "_write_": write_, "_getiter_": getiter_,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": inplacevar_, "_apply_": apply_, "_print_": print_, "_binop_": binop_,
        "_fmtval_": fmtval_, "_tick_": run.tick, "_weigh_": run.weigh, "_hashables_": hashables_,
        **helpers,
    }


class _Printer:
    """print(...) collects at most max_print characters; scripts cannot reach it (its name starts with _)."""

    __slots__ = ("run", "to_text")

    def __init__(self, run: Run, to_text):
        self.run, self.to_text = run, to_text

    def _call_print(self, *objects, sep=" ", end="\n"):
        text = self.to_text(sep).join(self.to_text(o) for o in objects) + self.to_text(end)
        if sum(map(len, self.run.printed)) + len(text) <= self.run.limits.max_print:
            self.run.printed.append(text)

    def __call__(self):
        return "".join(self.run.printed)
