"""待办 and 已办 pages and badge counts whose cost does not grow with the inbox.

The embedded database (SecantusDB) reads every row an index look-up names, and sorts them in memory, before it
applies a limit: the first 20 of an approver's 5,000 open tasks cost ~0.9 s there, where MongoDB reads 20 entries
of the index. A query of an index's equality prefix and a range of the field it continues with — `{status: "open",
audience: A, due_at: [a, b)}` and nothing more (an `$in` over audiences, a `$ne` beside the range or a top-level
`$or` made it read them all) — names only the rows in that window. So a list is read as windows of its sort
field: the first reaches just past where this list's first page ended last time, then windows each twice as wide,
until the page is full; past a horizon one last open-ended window. Which rows come back never depends on the hint:
every row before the last window's end is read, and the page is the first of them in order; the hint decides only
how many windows that takes. MongoDB answers each window from the same index.

Hints are kept per list and page length in this process (a bounded table): how far the window that filled the last
page reached and how wide a page was, or that the list was small enough to read whole (one plain query).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import clock
from workflows.cases.tasks.models import HumanTask

SMALL = 200                          # a list this small is read whole, in one query
FIRST_REACH = timedelta(days=1)      # a cold list's first window reaches this far past now
HORIZON = timedelta(days=3 * 366)    # windows stop growing here: the rest is one open-ended window
HINTS = 4096                         # lists remembered per process


@dataclass(frozen=True)
class Listing:
    """One list: its equality conditions (an index's prefix), the field that index continues with, the order, and
    whether rows without a value (a task with no deadline) come after all the others."""
    base: tuple                      # ((field, value), …)
    field: str
    descending: bool = False
    undated_last: bool = False


def todo(who: str) -> Listing:
    return Listing((("status", "open"), ("audience", who)), "due_at", undated_last=True)


def newest(who: str) -> Listing:
    return Listing((("status", "open"), ("audience", who)), "created_at", descending=True)


def done(user_id: str) -> Listing:
    return Listing((("completed_by", user_id),), "completed_at", descending=True)


class _Hints:
    def __init__(self):
        self.lock = threading.Lock()
        self.table: OrderedDict = OrderedDict()

    def get(self, key) -> dict:
        with self.lock:
            if key in self.table:
                self.table.move_to_end(key)
            return self.table.get(key) or {}

    def put(self, key, value: dict) -> None:
        with self.lock:
            self.table[key] = value
            self.table.move_to_end(key)
            while len(self.table) > HINTS:
                self.table.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.table.clear()


hints = _Hints()


def order_key(listing: Listing):
    """The list's order over raw rows: its field (rows without one last when the listing says so), then arrival,
    then id — the same on every database."""
    field = listing.field
    if listing.descending:
        return lambda row: (-row[field].timestamp(), _reversed(row["_id"]))
    return lambda row: (row.get(field) is None, row.get(field) or clock.DUE_FLOOR, row["created_at"], row["_id"])


def _reversed(oid) -> bytes:
    return bytes(255 - b for b in oid.binary)


def first_rows(listings: list[Listing], want: int, *, keep=lambda row: True, fields: tuple = (),
               until: datetime | None = None) -> list[dict]:
    """The first `want` rows (raw, with `fields`) of these lists merged in their common order, those `keep`
    keeps; fewer when there are fewer. `until` (ascending lists) stops before rows whose value is at or after it
    (the overdue ones), rows without a value excluded."""
    found: dict = {}
    for listing in listings:
        for row in _rows(listing, want, keep, fields, until):
            found[row["_id"]] = row        # a row that names two of the caller's groups is listed once
    return sorted(found.values(), key=order_key(listings[0]))[:want] if listings else []


def count(listings: list[Listing], cap: int, *, keep=lambda row: True, until: datetime | None = None) -> int:
    """How many rows these lists hold together, counted up to `cap` (at it: that many or more)."""
    found: set = set()
    for listing in listings:
        found.update(row["_id"] for row in _rows(listing, cap, keep, (), until))
        if len(found) >= cap:
            break                          # one list alone reached the cap: the others cannot lower it
    return min(len(found), cap)


def _rows(listing: Listing, want: int, keep, fields: tuple, until: datetime | None) -> list[dict]:
    collection = HumanTask._get_collection()
    base = dict(listing.base)
    projection = dict.fromkeys((*fields, "_id", listing.field, "created_at", "recused", "service_code"), 1)
    hint = hints.get((listing, want))
    if hint.get("small") and until is None:
        rows = list(collection.find(base, projection))
        if len(rows) <= 2 * SMALL:         # still small: one query was the cheapest
            return sorted(filter(keep, rows), key=order_key(listing))[:want]
        hint = {}                          # it grew: windows from now on
    rows, complete, read = [], True, 0
    for window in _windows(listing, hint, until):
        found = list(collection.find({**base, listing.field: window}, projection))
        read += len(found)
        rows += filter(keep, found)
        if len(rows) >= want:
            complete = False
            break
    if complete and listing.undated_last and until is None:
        found = list(collection.find({**base, listing.field: None}, projection))
        read += len(found)
        rows += filter(keep, found)
    rows.sort(key=order_key(listing))
    if until is None and read == len(rows):     # a filtered read says little of the whole list: not remembered
        _remember((listing, want), listing, rows, want, complete)
    return rows[:want]


def _windows(listing: Listing, hint: dict, until: datetime | None):
    """Range clauses of the listing's field, in its order, together covering every value (but null)."""
    now, width = clock.now(), hint.get("width") or FIRST_REACH
    if listing.descending:
        edge = now - hint.get("reach", FIRST_REACH)
        yield {"$gte": edge}
        while edge > now - HORIZON:
            step = max(edge - width, now - HORIZON)
            yield {"$gte": step, "$lt": edge}
            edge, width = step, width * 2
        yield {"$gte": clock.DUE_FLOOR, "$lt": edge}
        return
    end = until if until is not None else now + HORIZON
    edge = min(hint.get("reach") or now + FIRST_REACH, end)
    yield {"$gte": clock.DUE_FLOOR, "$lt": edge}
    while edge < end:
        step = min(edge + width, end)
        yield {"$gte": edge, "$lt": step}
        edge, width = step, width * 2
    if until is None:
        yield {"$gte": edge}


def _remember(key, listing: Listing, rows: list, want: int, complete: bool) -> None:
    if complete:
        if len(rows) <= SMALL:
            hints.put(key, {"small": True})
        return
    first, last = rows[0][listing.field], rows[min(want, len(rows)) - 1][listing.field]
    if first is None or last is None:
        return
    span = max(abs(last - first), timedelta(seconds=1))
    # next time the first window ends half a page's span past this page's last row, the next as wide as a page
    if listing.descending:
        hints.put(key, {"reach": clock.now() - last + span / 2, "width": span})
    else:
        hints.put(key, {"reach": last + span / 2, "width": span})
