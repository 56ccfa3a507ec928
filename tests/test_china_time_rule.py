"""The rule of docs/architecture.md's "Time": stored times are UTC; a day or an hour meant for a person is China's,
from `core.clock.china()` / `china_today()`; nothing reads the server's zone. This reads the source and names each
file:line that breaks it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("api", "core", "designer", "forms", "storage", "workflows")
SKIP_PARTS = {"node_modules", "web", "__pycache__"}



def _dotted(node: ast.AST) -> str:
    """`datetime.datetime.now` for the function of a call; "" when it is not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _is_clock_now(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _dotted(node.func) in ("clock.now", "core.clock.now")


def _tz_keyword(call: ast.Call) -> bool:
    return any(k.arg == "tz" for k in call.keywords)


def _has_tz(call: ast.Call) -> bool:
    return bool(call.args) or _tz_keyword(call)


def offences(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if name.endswith(("date.today", "datetime.today")):
                found.append((node.lineno, f"{name}(): the server's date; use clock.china_today()"))
            elif name.endswith("datetime.now") and not _has_tz(node):
                found.append((node.lineno, "datetime.now() without a zone: the server's time; use clock.now()"))
            elif name.endswith(("datetime.utcnow", "datetime.utcfromtimestamp")):
                found.append((node.lineno, f"{name}(): a naive UTC time; use clock.now()"))
            elif name.endswith("datetime.fromtimestamp") and not (len(node.args) > 1 or _tz_keyword(node)):
                found.append((node.lineno, "datetime.fromtimestamp() without a zone: the server's time"))
            elif name in ("time.localtime", "time.ctime", "time.strftime", "time.mktime"):
                found.append((node.lineno, f"{name}(): the server's zone"))
            elif last == "astimezone" and not node.args and not node.keywords:
                found.append((node.lineno, ".astimezone() with no zone converts to the server's zone"))
            elif last in ("date", "strftime", "timetuple") and _is_clock_now(node.func.value):
                found.append((node.lineno, f"clock.now().{last}(): the UTC day; use clock.china()"))
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None and _is_clock_now(node.value):
            found.append((node.lineno, "f\"{clock.now():…}\": the UTC day; use clock.china()"))
    return found


def _sources():
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            if not SKIP_PARTS.intersection(path.relative_to(ROOT).parts):
                yield path


def test_no_source_reads_the_servers_zone_or_takes_the_utc_day():
    broken = [f"{path.relative_to(ROOT)}:{line}: {why}"
              for path in _sources() for line, why in offences(path.read_text(encoding="utf-8"))]
    assert not broken, "China time comes from core.clock (docs/architecture.md, Time):\n" + "\n".join(broken)


@pytest.mark.parametrize("line", [
    "date.today()", "datetime.date.today()", "datetime.today()", "datetime.now()", "datetime.datetime.now()",
    "datetime.utcnow()", "time.localtime()", "time.strftime('%Y')", "at.astimezone()",
    "clock.now().date()", "clock.now().strftime('%Y%m%d')", "f'{clock.now():%Y%m%d}'",
    "datetime.fromtimestamp(0)",
])
def test_the_rule_catches(line):
    assert offences(line), line


@pytest.mark.parametrize("line", [
    "datetime.now(timezone.utc)", "datetime.now(tz=CHINA)", "at.astimezone(timezone.utc)", "clock.china_today()",
    "clock.china().strftime('%Y%m%d')", "f'{clock.china():%Y%m%d}'", "clock.now()",
    "datetime.fromtimestamp(0, timezone.utc)", "time.perf_counter()", "time.time()",
])
def test_the_rule_lets_pass(line):
    assert not offences(line), line
