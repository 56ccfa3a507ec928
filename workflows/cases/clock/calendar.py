"""The working-day calendar's admin side: checking a year's file and importing it (`zhangban calendar import FILE`),
which moves the open deadlines and reminder points the new year changes (`deadlines.recompute`).

The calendar itself — which China date is a working day, counting working days both ways, the years shipped in
`core/workdays_data/` and those imported into `calendar_years` — is `core/workdays.py`, shared with the BPMN
helpers so a process and the legal clock count alike; everything counting days calls it there.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jsonschema import Draft202012Validator

from core import audit, clock
from core.actor import Actor
from core.errors import Invalid
from core.workdays import CalendarYear, Year, clear_cache
from workflows.cases.clock import deadlines

_DAY = {"type": "object", "required": ["date"], "additionalProperties": False, "properties": {
    "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    "name": {"type": "string", "maxLength": 100}}}
SCHEMA = {"type": "object", "required": ["year", "holidays", "workdays"], "properties": {
    "year": {"type": "integer", "minimum": 2000, "maximum": 2200},
    "source": {"type": "string", "maxLength": 500},
    "provisional": {"type": "boolean"},
    "comment": {"type": "string", "maxLength": 5000},
    "holidays": {"type": "array", "maxItems": 366, "items": _DAY},
    "workdays": {"type": "array", "maxItems": 366, "items": _DAY}}}
_VALIDATOR = Draft202012Validator(SCHEMA)


# -- reading and checking a year's file ------------------------------------------------------------------------

def _item(path: str, code: str, en: str, zh: str, day: str = "") -> dict:
    out = {"path": path, "code": code, "message": en, "message_en": en, "message_zh": zh}
    if day:
        out["date"] = day
    return out


def check(doc) -> Year:
    """A year's arrangement from its JSON document, or Invalid("calendar.invalid") with one item per problem,
    each naming its JSON pointer and the date."""
    errors = [_item("/" + "/".join(str(p) for p in e.absolute_path), "schema", e.message, f"格式错误：{e.message}")
              for e in sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        raise Invalid("calendar.invalid", errors=errors)
    year, seen, days = doc["year"], {}, {"holidays": set(), "workdays": set()}
    for kind in ("holidays", "workdays"):
        for i, entry in enumerate(doc[kind]):
            text, path = entry["date"], f"/{kind}/{i}/date"
            try:
                day = date.fromisoformat(text)
            except ValueError:
                errors.append(_item(path, "bad_date", f"{text} is not a date", f"{text} 不是有效日期", text))
                continue
            if day.year != year:
                errors.append(_item(path, "wrong_year", f"{text} is not in {year}", f"{text} 不在 {year} 年", text))
            elif day in seen:
                other = seen[day]
                same = other.split("/")[1] == kind
                errors.append(_item(path, "duplicate" if same else "both",
                                    f"{text} is listed twice" if same else f"{text} is both a holiday and a workday",
                                    f"{text} 重复" if same else f"{text} 同时是假日和调休上班日", text))
            elif kind == "workdays" and day.weekday() < 5:
                errors.append(_item(path, "not_weekend", f"{text} is a weekday: a 调休 workday is a Saturday or "
                                                         f"Sunday", f"{text} 是工作日，调休上班日应为周六或周日", text))
            seen.setdefault(day, path)
            days[kind].add(day)
    if errors:
        raise Invalid("calendar.invalid", errors=errors)
    return Year(year, frozenset(days["holidays"]), frozenset(days["workdays"]), "file",
                bool(doc.get("provisional", False)), doc.get("source", ""))


@dataclass
class Imported:
    year: CalendarYear
    moved: int                    # open cases whose deadline or reminder point the import moved


def import_year(actor: Actor, doc) -> Imported:
    """Store (or replace) a year from its JSON document, after `check`; then move the open cases' deadlines and
    unsent reminder points that fall in or after that year to what the new arrangement says."""
    year = check(doc)
    entries = {kind: sorted(({"date": e["date"], "name": e.get("name", "")} for e in doc[kind]),
                            key=lambda e: e["date"]) for kind in ("holidays", "workdays")}
    CalendarYear._get_collection().update_one(
        {"_id": year.year},
        {"$set": {**entries, "source": doc.get("source", ""), "provisional": year.provisional,
                  "imported_by": actor.user_id, "imported_at": clock.now()}, "$inc": {"version": 1}}, upsert=True)
    clear_cache()
    moved = deadlines.recompute(date(year.year, 1, 1))
    audit.record(actor, "calendar.import", "calendar", year.year, holidays=len(year.holidays),
                 workdays=len(year.workdays), source=doc.get("source", ""), provisional=year.provisional,
                 moved=moved)
    return Imported(CalendarYear.objects(id=year.year).first(), moved)
