"""Designer-supplied `pattern`s: compile them, and refuse the ones that backtrack catastrophically.

Python's `re` has no time limit, so a pattern like `^(a+)+$` can spin for minutes on 30 characters. We refuse,
at validate time, the shapes that cause exponential or high-polynomial backtracking:

- a repeat inside a repeat, where both may match more than once (`(a+)+`, `(\\w*,?)*`, `(a{1,9}){2,}`);
- a repeated alternation whose branches can start with the same character (`(a|ab)*`, `(\\d|[0-9a-f])+`);
- three or more unbounded repeats in a row that can match the same characters (`\\d*\\d*\\d*`);
- two long repeats of one character class in a row that overlap (`\\d*\\d*x`, `.*.*=`): cubic under re.search.

Every string field also has a `maxLength` (a default when the designer gives none; at most 2000 with a
pattern), and a value longer than that is refused before its pattern runs, which bounds what any accepted
pattern can cost.
"""
from __future__ import annotations

import re

try:  # the parser behind `re`; 3.11 keeps it as re._parser
    from re import _parser as sre_parse
    from re import _constants as sre
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore
    import sre_constants as sre  # type: ignore

MAX_PATTERN_LENGTH = 500
MAX_TEXT = 2000    # no pattern runs on longer text: even one repeat costs time growing with its square
LONG_REPEAT = 32   # a repeat whose count may vary by this much is as costly as an unbounded one
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT} | ({sre.POSSESSIVE_REPEAT} if hasattr(sre, "POSSESSIVE_REPEAT") else set())
_ANY = None  # "could be any character"
_COMPLEX = object()  # "not a repeat of one character class"
# \d and \s by their ASCII members: enough to tell them apart from the separators patterns use (- , . /)
_CATEGORIES = {sre.CATEGORY_DIGIT: set(range(48, 58)), sre.CATEGORY_SPACE: {9, 10, 11, 12, 13, 32}}


def check(pattern: str) -> tuple[str, str] | None:
    """None if the pattern is acceptable, else (code, explanation)."""
    if not isinstance(pattern, str):
        return "invalid_regex", "a pattern is a string"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return "invalid_regex", f"longer than {MAX_PATTERN_LENGTH} characters"
    try:
        re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return "invalid_regex", str(exc)
    problem = _scan(list(parsed))
    return ("catastrophic_regex", problem) if problem else None


def _is_multi(max_count) -> bool:
    return max_count > 1   # MAXREPEAT (unbounded) is a large int


def _flat(items):
    """The items with plain (unrepeated) groups opened up: `(\\d*)\\d*` is two adjacent repeats too."""
    for op, arg in items:
        if op is sre.SUBPATTERN:
            yield from _flat(list(arg[-1]))
        else:
            yield op, arg


_COMPLEMENT = {sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT, sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
               sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD}


def _one_class(body):
    """A repeat of one character class (`\\d*`, `.+`, `[^,]{0,500}`, `\\1*`) as (negated, exact items, first-character
    set), else _COMPLEX. Exact items let `\\s*\\S+` and `[^,]*,*` be told apart: no character is in both."""
    if len(body) != 1 or body[0][0] not in (sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY, sre.GROUPREF):
        return _COMPLEX
    op, arg = body[0]
    if op is sre.LITERAL:
        return False, frozenset({(sre.LITERAL, arg)}), {arg}
    if op is sre.NOT_LITERAL:
        return True, frozenset({(sre.LITERAL, arg)}), _ANY
    if op is sre.IN:
        if len(arg) == 1 and arg[0][0] is sre.CATEGORY and arg[0][1] in _COMPLEMENT:
            return True, frozenset({(sre.CATEGORY, _COMPLEMENT[arg[0][1]])}), _ANY      # \\S, \\D, \\W
        negated = bool(arg) and arg[0][0] is sre.NEGATE
        items = frozenset((kind, value) for kind, value in arg if kind is not sre.NEGATE)
        return negated, items, _ANY if negated else _first(body)
    return True, frozenset(), _ANY    # . or a back reference: anything


def _classes_overlap(a, b) -> bool:
    (a_neg, a_items, a_first), (b_neg, b_items, b_first) = a, b
    if a_neg and b_neg:
        return True
    if not a_neg and not b_neg:
        return _overlap([a_first, b_first])
    positive, negated = (b_items, a_items) if a_neg else (a_items, b_items)
    return not all(_excluded(item, negated) for item in positive)


def _repeats_overlap(a, b) -> bool:
    """(first-character set, class) of two repeats: exact when both are one class (`\\s*\\S+`)."""
    if a[1] is not _COMPLEX and b[1] is not _COMPLEX:
        return _classes_overlap(a[1], b[1])
    return _overlap([a[0], b[0]])


def _excluded(item, negated) -> bool:
    """Whether a negated class's items leave out every character of this item."""
    if item in negated:
        return True
    kind, value = item
    low, high = (value, value) if kind is sre.LITERAL else value if kind is sre.RANGE else (None, None)
    return low is not None and any(k is sre.RANGE and v[0] <= low and high <= v[1] for k, v in negated)


def _scan(items) -> str | None:
    run = []  # the first-character sets of consecutive unbounded repeats
    classes = []  # the character sets of consecutive long repeats of one character class
    for op, arg in _flat(items):
        if op in _REPEATS:
            low, high, body = arg
            body = list(body)
            # Two long repeats of overlapping characters in a row (`\d*\d*x`, `.*.*=`) try every split of the
            # text between them at every start: cubic, seconds on a 2,000-character textarea.
            # A repeat that may match nothing (`\\S*`, `a?`) leaves the ones around it adjacent (`\\s*\\S*\\s*`).
            chars = _one_class(body) if high - low >= LONG_REPEAT else _COMPLEX
            if chars is not _COMPLEX:
                for before, before_low in reversed(classes):
                    if _classes_overlap(before, chars):
                        return "two adjacent repeats can match the same characters"
                    if before_low:
                        break
                classes = [(chars, low)] if low else classes + [(chars, low)]
            elif low:
                classes = []
            if _is_multi(high):
                # (a+)+ is ambiguous: the inner repeat can end where the next round starts. (-[a-z]+)* is not:
                # each round must begin with a character the inner repeat cannot match.
                if _ambiguous_rounds(body):
                    return "a repeated group contains another repeat (nested quantifier)"
                branches = _branches(body)
                if branches and _overlap([_first(b) for b in branches]):
                    return "a repeated alternation has branches that can match the same text"
            problem = _scan(body)
            if problem:
                return problem
            if high == sre.MAXREPEAT:
                first = (_first(body), _one_class(body))
                run = run + [first] if run and _repeats_overlap(run[-1], first) else [first]
                if len(run) >= 3:
                    return "three or more adjacent repeats can match the same characters"
                continue
            run = []
            continue
        elif op is sre.AT:
            continue   # ^ $ \b take no characters: the repeats around them are still adjacent
        elif op is sre.BRANCH:
            for branch in arg[1]:
                problem = _scan(list(branch))
                if problem:
                    return problem
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            problem = _scan(list(arg[1]))
            if problem:
                return problem
        run, classes = [], []
    return None


def _ambiguous_rounds(body) -> bool:
    r"""Whether a variable-length part of a repeated body can run on into the next round: it matches what a
    round starts with, and no mandatory element after it (a separator like the "," of `(\d+,)*`) stops it."""
    while len(body) == 1 and body[0][0] is sre.SUBPATTERN:
        body = list(body[0][1][-1])
    first = _first(body)
    for i, item in enumerate(body):
        for part in _inner_repeats([item]):
            if not _overlap([part, first]):
                continue
            stoppers = [later for later in body[i + 1:] if _mandatory(later)]
            if not any(not _overlap([part, _first([later])]) for later in stoppers):
                return True
    return False


def _mandatory(item) -> bool:
    op, arg = item
    if op in _REPEATS:
        return arg[0] > 0
    if op is sre.BRANCH:
        return all(len(b) for b in arg[1])
    return op is not sre.AT


def _inner_repeats(items) -> list:
    """The first-character sets of the variable-length parts inside these items: repeats whose count is not
    fixed (`a+`, `a{1,9}`, `a?`) and alternations with an empty branch (what `a|aa` is parsed into)."""
    found = []
    for op, arg in items:
        if op in _REPEATS:
            if arg[1] != arg[0]:
                found.append(_first(list(arg[2])))
            found.extend(_inner_repeats(list(arg[2])))
        elif op is sre.SUBPATTERN:
            found.extend(_inner_repeats(list(arg[-1])))
        elif op is sre.BRANCH:
            if any(len(b) == 0 for b in arg[1]):
                sets = [_first(list(b)) for b in arg[1] if len(b)]
                found.append(_ANY if any(x is _ANY for x in sets) else set().union(*sets))
            for branch in arg[1]:
                found.extend(_inner_repeats(list(branch)))
    return found


def _branches(items):
    """The alternatives of a repeat's body, if it is (a group around) one alternation."""
    while len(items) == 1 and items[0][0] is sre.SUBPATTERN:
        items = list(items[0][1][-1])
    if len(items) == 1 and items[0][0] is sre.BRANCH:
        return [list(b) for b in items[0][1][1]]
    if len(items) == 1 and items[0][0] is sre.IN:
        return None  # a character class is one choice per character: no backtracking between branches
    return None


def _first(items):
    """The set of characters the items can start with (as code points), or _ANY when it is hard to say."""
    for op, arg in items:
        if op is sre.LITERAL:
            return {arg}
        if op is sre.IN:
            chars = set()
            for kind, value in arg:
                if kind is sre.LITERAL:
                    chars.add(value)
                elif kind is sre.RANGE and value[1] - value[0] < 512:
                    chars.update(range(value[0], value[1] + 1))
                elif kind is sre.CATEGORY and value in _CATEGORIES:
                    chars.update(_CATEGORIES[value])
                else:
                    return _ANY  # NEGATE, CATEGORY (\w, \d), wide ranges: assume anything
            return chars
        if op in _REPEATS:
            first = _first(list(arg[2]))
            if arg[0] == 0:
                return _ANY  # optional: what follows may start the match as well
            return first
        if op is sre.SUBPATTERN:
            return _first(list(arg[-1]))
        if op is sre.BRANCH:
            sets = [_first(list(b)) for b in arg[1]]
            return _ANY if any(s is _ANY for s in sets) else set().union(*sets)
        if op in (sre.AT,):
            continue
        return _ANY  # ANY (.), categories, groupref …
    return _ANY


def _overlap(sets) -> bool:
    seen = set()
    for chars in sets:
        if chars is _ANY:
            return True
        if seen & chars:
            return True
        seen |= chars
    return False
