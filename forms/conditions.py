"""The safe condition language of `x-visible-if` and `x-required-if`: parsed into a small tree, never eval'd.

    married == true and spouse_count < 3
    relation in ['child', 'spouse'] or not $.is_company
    address.region != null

Grammar (whole expressions up to 500 characters, nesting up to 20 levels):

    expr  := and ("or" | "||") and ...       cmp  := value [("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") value]
    and   := not ("and" | "&&") not ...     value := literal | name | "(" expr ")" | "[" literal, ... "]"
    not   := ("not" | "!") not | cmp         literal := 'text' | "text" | 12 | -3.5 | true | false | null

A name is a field key, dotted into groups (`address.detail`), resolved in the object that holds the condition
(the form, a group, or one row of a repeatable group); `$.name` starts from the form's root. A missing or
hidden field is `null`. Comparing values of different kinds is false, never an error.

The parsed tree is JsonLogic-shaped (`{"and": [{"==": [{"var": "married"}, true]}, …]}`), which is what the
render model hands to mini-programs: they evaluate it without a parser, and `var` paths keep the same meaning.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal

MAX_LENGTH = 500
MAX_DEPTH = 20

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>-?\d{1,15}(?:\.\d{1,15})?)(?![\w.])
  | (?P<str>'(?:[^'\\]|\\.){0,200}'|"(?:[^"\\]|\\.){0,200}")
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],])
  | (?P<name>(?:\$\.)?[A-Za-z][A-Za-z0-9_]{0,63}(?:\.[A-Za-z][A-Za-z0-9_]{0,63}){0,5})
)""", re.X)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_LITERALS = {"true": True, "false": False, "null": None}
_COMPARE = {"==", "!=", "<", "<=", ">", ">=", "in"}


class ConditionError(ValueError):
    """The expression does not parse; `position` is the character offset where it went wrong."""

    def __init__(self, message: str, position: int = 0):
        super().__init__(message)
        self.position = position


def _tokens(text: str):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"unexpected character at {pos}: {text[pos:pos + 10]!r}", pos)
        kind = m.lastgroup
        value, start = m.group(kind), m.start(kind)
        if kind == "name" and value in _KEYWORDS:
            kind = "kw"
        out.append((kind, value, start))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, value):
        kind, got, pos = self.take()
        if got != value:
            raise ConditionError(f"expected {value!r} at {pos}, found {got or 'the end'!r}", pos)

    def parse(self):
        tree = self.expr(0)
        kind, value, pos = self.peek()
        if kind != "end":
            raise ConditionError(f"unexpected {value!r} at {pos}", pos)
        return tree

    def _deeper(self, depth):
        if depth > MAX_DEPTH:
            raise ConditionError(f"nested more than {MAX_DEPTH} levels", self.peek()[2])
        return depth + 1

    def expr(self, depth):
        depth = self._deeper(depth)
        parts = [self.conj(depth)]
        while self.peek()[1] in ("or", "||"):
            self.take()
            parts.append(self.conj(depth))
        return parts[0] if len(parts) == 1 else {"or": parts}

    def conj(self, depth):
        parts = [self.neg(depth)]
        while self.peek()[1] in ("and", "&&"):
            self.take()
            parts.append(self.neg(depth))
        return parts[0] if len(parts) == 1 else {"and": parts}

    def neg(self, depth):
        if self.peek()[1] in ("not", "!"):
            self.take()
            return {"!": [self.neg(self._deeper(depth))]}
        return self.cmp(depth)

    def cmp(self, depth):
        left = self.value(depth)
        op = self.peek()[1]
        if op in _COMPARE and self.peek()[0] in ("op", "kw"):
            self.take()
            return {op: [left, self.value(depth)]}
        return left

    def value(self, depth):
        kind, value, pos = self.take()
        if kind == "num":
            return _number(value)
        if kind == "str":
            return _unquote(value)
        if kind == "kw" and value in _LITERALS:
            return _LITERALS[value]
        if kind == "name":
            return {"var": value}
        if value == "(":
            inner = self.expr(depth)
            self.expect(")")
            return inner
        if value == "[":
            items = []
            while self.peek()[1] != "]":
                item = self.value(depth)
                if isinstance(item, dict):
                    raise ConditionError(f"a list holds only literals (at {pos})", pos)
                items.append(item)
                if self.peek()[1] != ",":
                    break
                self.take()
            self.expect("]")
            return items
        raise ConditionError(f"unexpected {value or 'end of expression'!r} at {pos}", pos)


def _number(text):
    return Decimal(text) if "." in text else int(text)


def _unquote(text):
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse(text: str) -> dict | list | str | int | bool | None:
    """The JsonLogic-shaped tree of an expression, or ConditionError."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("an expression is a non-empty string")
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()


def references(tree) -> list[str]:
    """Every `var` path the tree reads, in order of appearance."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for op, args in node.items():
                if op == "var":
                    found.append(args)
                else:
                    for arg in args:
                        walk(arg)
    walk(tree)
    return found


def to_json(tree):
    """The tree with Decimal literals as JSON numbers (floats), for the render model."""
    if isinstance(tree, Decimal):
        return float(tree)
    if isinstance(tree, dict):
        return {op: (args if op == "var" else [to_json(a) for a in args]) for op, args in tree.items()}
    if isinstance(tree, list):
        return [to_json(a) for a in tree]
    return tree


# -- evaluation: the tree becomes nested closures once; evaluating is a few calls -----------------------------------

def _truthy(value) -> bool:
    return value not in (None, False, "", 0) and value != [] if not isinstance(value, bool) else value


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _exact(a, b):
    """A float meeting a Decimal literal as the decimal it was written as: data 0.1 (a JSON number, so a float)
    equals the literal 0.1, as it does in the client that evaluates the render model's tree."""
    if isinstance(a, float) and isinstance(b, Decimal) and math.isfinite(a):
        return Decimal(repr(a)), b
    if isinstance(b, float) and isinstance(a, Decimal) and math.isfinite(b):
        return a, Decimal(repr(b))
    return a, b


def _equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_number(a) and _is_number(b):
        a, b = _exact(a, b)
        return a == b
    return type(a) is type(b) and a == b


def _ordered(op):
    def compare(a, b):
        if _is_number(a) and _is_number(b):
            return op(*_exact(a, b))
        if isinstance(a, str) and isinstance(b, str):
            return op(a, b)
        return False
    return compare


_ORDER = {"<": _ordered(lambda a, b: a < b), "<=": _ordered(lambda a, b: a <= b),
          ">": _ordered(lambda a, b: a > b), ">=": _ordered(lambda a, b: a >= b)}


def _member(a, b) -> bool:
    if isinstance(b, list):
        return any(_equal(a, item) for item in b)
    if isinstance(a, str) and isinstance(b, str):
        return a in b
    return False


def _getter(path: str):
    root = path.startswith("$.")
    parts = tuple((path[2:] if root else path).split("."))

    def get(scope, top):
        value = top if root else scope
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    return get


def compile_tree(tree):
    """A function (scope, root) → value; `scope` is the object holding the condition, `root` the form data."""
    if isinstance(tree, list):
        items = [compile_tree(t) for t in tree]
        return lambda scope, root: [f(scope, root) for f in items]
    if not isinstance(tree, dict):
        return lambda scope, root: tree
    (op, args), = tree.items()
    if op == "var":
        return _getter(args)
    fns = [compile_tree(a) for a in args]
    if op == "and":
        return lambda s, r: all(_truthy(f(s, r)) for f in fns)
    if op == "or":
        return lambda s, r: any(_truthy(f(s, r)) for f in fns)
    if op == "!":
        inner = fns[0]
        return lambda s, r: not _truthy(inner(s, r))
    left, right = fns
    if op == "==":
        return lambda s, r: _equal(left(s, r), right(s, r))
    if op == "!=":
        return lambda s, r: not _equal(left(s, r), right(s, r))
    if op == "in":
        return lambda s, r: _member(left(s, r), right(s, r))
    compare = _ORDER[op]
    return lambda s, r: compare(left(s, r), right(s, r))


def predicate(tree):
    """A function (scope, root) → bool."""
    fn = compile_tree(tree)
    return lambda scope, root: _truthy(fn(scope, root))
