"""The approver's lists read in windows (workflows/cases/tasks/inbox.py): the same rows in the same order as one
sorted query over everything, whatever the hints say; and a warm list reads about a page, not the whole inbox."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from bson import ObjectId

from core import clock
from tests.applications_fixtures import case  # noqa: F401 — the fixture
from tests.commands import counting_commands, listener


@pytest.fixture
def rows(app):
    """600 inbox rows over three audiences: due dates from 40 days overdue to 200 days ahead (some clustered in
    one second, some without a deadline), closed ones, recusals and two services."""
    from workflows.cases.tasks import inbox
    from workflows.cases.tasks.models import HumanTask

    inbox.hints.clear()
    rnd, now = random.Random(7), clock.now()
    made = []
    for i in range(600):
        due = rnd.choice([None, now + timedelta(seconds=rnd.randint(-40 * 86400, 200 * 86400)),
                          now + timedelta(days=3, milliseconds=rnd.randint(0, 999))])
        audience = rnd.choice([["dept:a"], ["dept:b"], ["user:u"], ["dept:a", "user:u"], ["dept:z"]])
        made.append({"_id": ObjectId(), "task_id": f"t{i}", "instance_id": ObjectId(), "application_id": ObjectId(),
                     "status": rnd.choice(["open"] * 4 + ["completed"]), "audience": audience,
                     "due_at": due, "created_at": now - timedelta(seconds=rnd.randint(0, 90 * 86400)),
                     "recused": ["u"] if rnd.random() < 0.05 else [], "service_code": rnd.choice(["s1", "s2"]),
                     "completed_by": "u" if rnd.random() < 0.3 else None,
                     "completed_at": now - timedelta(seconds=rnd.randint(0, 90 * 86400))})
    HumanTask._get_collection().insert_many(made)
    yield made
    inbox.hints.clear()


def expected(made, sort, keep=lambda r: True, until=None):
    mine = [r for r in made if r["status"] == "open" and {"dept:a", "dept:b", "user:u"} & set(r["audience"])
            and keep(r) and (until is None or (r["due_at"] is not None and r["due_at"] < until))]
    if sort == "due":
        mine.sort(key=lambda r: (r["due_at"] is None, r["due_at"] or clock.DUE_FLOOR, r["created_at"], r["_id"]))
    else:
        mine.sort(key=lambda r: (r["created_at"], r["_id"].binary), reverse=True)
    return [r["_id"] for r in mine]


def read(sort, want, **kw):
    from workflows.cases.tasks import inbox

    make = inbox.todo if sort == "due" else inbox.newest
    return [r["_id"] for r in inbox.first_rows([make(w) for w in ("user:u", "dept:a", "dept:b")], want, **kw)]


@pytest.mark.parametrize("sort", ["due", "newest"])
def test_windows_give_what_one_sorted_query_gives_whatever_the_hints(rows, sort):
    from workflows.cases.tasks import inbox

    every = expected(rows, sort)
    assert len(every) > 300
    for want in (1, 20, 21, 100, 1000):
        assert read(sort, want) == every[:want], want          # cold, then warm: the hints of the last read
        assert read(sort, want) == every[:want], want
    for listing in [inbox.todo(w) for w in ("user:u", "dept:a", "dept:b")] + \
            [inbox.newest(w) for w in ("user:u", "dept:a", "dept:b")]:
        for wrong in ({"reach": clock.now() + timedelta(days=900), "width": timedelta(seconds=1)},
                      {"reach": clock.DUE_FLOOR + timedelta(days=1), "width": timedelta(days=400)},
                      {"reach": timedelta(days=800), "width": timedelta(milliseconds=1)},
                      {"small": True}):
            if isinstance(wrong.get("reach"), timedelta) != listing.descending:
                continue
            for want in (20, 250):
                inbox.hints.put((listing, want), wrong)
            assert read(sort, 20) == every[:20]
            assert read(sort, 250) == every[:250]
    keep = lambda r: "u" not in r["recused"] and r["service_code"] == "s1"    # noqa: E731
    assert read(sort, 30, keep=keep) == expected(rows, sort, keep)[:30]
    listings = [inbox.todo(w) for w in ("user:u", "dept:a", "dept:b")]
    assert inbox.count(listings, 100) == 100 and inbox.count(listings, 1000) == len(expected(rows, "due"))


def test_overdue_rows_end_where_the_deadline_is_now(rows):
    now = clock.now()
    assert read("due", 1000, until=now) == expected(rows, "due", until=now)
    assert read("due", 5, until=now) == expected(rows, "due", until=now)[:5]


def test_a_warm_list_reads_about_a_page_of_a_large_inbox(app, settings):
    """1,500 open rows in one department: once its hint is warm, the first page is one or two windows holding
    about a page of rows, not the 1,500."""
    from workflows.cases.tasks import inbox
    from workflows.cases.tasks.models import HumanTask

    inbox.hints.clear()
    now = clock.now()
    HumanTask._get_collection().insert_many([
        {"task_id": f"t{i}", "instance_id": ObjectId(), "application_id": ObjectId(), "status": "open",
         "audience": ["dept:big"], "due_at": now + timedelta(days=5, milliseconds=20 * i),
         "created_at": now + timedelta(milliseconds=20 * i), "recused": []} for i in range(1500)])
    assert len(inbox.first_rows([inbox.todo("dept:big")], 21)) == 21      # cold: learns where the page ends
    counting = listener()
    with counting_commands(settings, listener=counting):
        page = inbox.first_rows([inbox.todo("dept:big")], 21, fields=("task_id",))
    assert [r["task_id"] for r in page] == [f"t{i}" for i in range(21)]
    assert counting.counts[("find", "human_tasks")] <= 3
    assert counting.returned[("find", "human_tasks")] <= 80, counting.returned
    inbox.hints.clear()


def test_an_approver_finds_the_task_of_a_case_by_its_id_or_number(case):
    submitted = case.submit()
    for reference in (submitted["id"], submitted["number"]):
        r = case.client.get("/api/v1/tasks", query_string={"application": reference}, headers=case.civil_1)
        assert r.status_code == 200 and [t["application_id"] for t in r.json["items"]] == [submitted["id"]]
    # someone without a task of it, and a number nobody has: nothing, and no error
    for headers, reference in ((case.housing_1, submitted["id"]), (case.civil_1, "ZB0000000000000")):
        r = case.client.get("/api/v1/tasks", query_string={"application": reference}, headers=headers)
        assert r.status_code == 200 and r.json["items"] == []
