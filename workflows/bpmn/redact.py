"""No personal data in an incident's message. Python's and SpiffWorkflow's errors quote the values they choked on
(`invalid literal for int() with base 10: '110101199001011234'`): a designer's `int(id_no)` would carry a resident's
身份证号 into a 422 an approver reads masked everywhere else, and into the instance's stored incident.

`message()` replaces the values of the process data found on the failing task, quoted literals after a colon, and
long runs of digits with `…`; what is left (the error's kind, the expression) is for designers. Approvers never get
even that: `instances.incident_error(…, detailed=False)` names only the element and the kind.
"""
from __future__ import annotations

import re
from datetime import date

HIDDEN = "…"
MAX_VALUES = 2000          # data values collected from one failing task
MIN_LENGTH = 3             # shorter values (flags, small counts) say nothing of a person
_QUOTED_AFTER_COLON = re.compile(r"""(:\s*)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_DIGITS = re.compile(r"\d{6,}")


def values_of(error: BaseException, chain) -> list[str]:
    """The scalar values (as text) of the data of the tasks and workflows the error names."""
    found: list[str] = []
    seen = set()
    for item in chain(error):
        task = getattr(item, "task", None)
        for data in (getattr(task, "data", None), getattr(getattr(task, "workflow", None), "data", None)):
            if isinstance(data, dict) and id(data) not in seen:
                seen.add(id(data))
                _walk(data, found)
    return found


def _walk(value, found: list[str], depth: int = 0) -> None:
    if len(found) >= MAX_VALUES or depth > 20:
        return
    if isinstance(value, dict):
        for item in value.values():
            _walk(item, found, depth + 1)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _walk(item, found, depth + 1)
    elif isinstance(value, (str, int, float, date)) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= MIN_LENGTH:
            found.append(text)
    elif value is not None and type(value).__name__ == "Decimal":
        found.append(str(value))


def message(text: str, values=()) -> str:
    """`text` with data values, quoted literals after a colon and long digit runs replaced."""
    for value in sorted(set(values), key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    text = _QUOTED_AFTER_COLON.sub(lambda m: f"{m.group(1)}'{HIDDEN}'", text)
    return _DIGITS.sub(HIDDEN, text)
