"""Issue 25, item 3: the provisional 2027 calendar, one working-day definition for processes and the legal clock,
an import that moves the open deadlines it changes, reminders in working hours, the years in /readyz and /metrics."""
from __future__ import annotations

from datetime import date, timedelta

import yaml
from bson import ObjectId
from prometheus_client.parser import text_string_to_metric_families

from api.cli import cli
from core import clock, workdays
from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)
from tests.time_fixtures import cal, cst, write  # noqa: F401 (fixture)


def test_2027_ships_provisional_with_the_statutory_and_lunar_holidays(cal):
    from workflows.cases.clock import calendar

    doc = workdays.shipped(2027)
    year = calendar.check(doc)                      # the shipped file passes the import's own check
    assert year.provisional and doc["provisional"] is True and "暂定" in doc["source"]
    assert year.workdays == frozenset()             # no 调休 working weekend is invented
    found = workdays.year_of(2027)
    assert found.origin == "shipped" and not found.official and workdays.year_of(2026).official
    statutory = {"2027-01-01": "元旦", "2027-02-05": "春节", "2027-02-06": "春节", "2027-02-07": "春节",
                 "2027-02-08": "春节", "2027-04-05": "清明节", "2027-05-01": "劳动节", "2027-05-02": "劳动节",
                 "2027-06-09": "端午节", "2027-09-15": "中秋节", "2027-10-01": "国庆节", "2027-10-02": "国庆节",
                 "2027-10-03": "国庆节"}
    names = {e["date"]: e["name"] for e in doc["holidays"]}
    assert all(names[d] == n for d, n in statutory.items())
    # the statutory days on a weekend are given back on the next weekdays (补假), marked as not yet official
    given_back = sorted(d for d, n in names.items() if "补假" in n)
    assert given_back == ["2027-02-09", "2027-02-10", "2027-05-03", "2027-05-04", "2027-10-04", "2027-10-05"]
    assert all(date.fromisoformat(d).weekday() < 5 for d in given_back)
    assert not workdays.is_working_day(date(2027, 1, 1)) and workdays.is_working_day(date(2027, 1, 4))
    assert not workdays.is_working_day(date(2027, 2, 13))          # every Saturday stays a day off


def test_a_five_day_limit_from_28_december_skips_new_year_and_the_weekend(cal):
    from workflows.cases.clock import deadlines

    start = cst(2026, 12, 28, 10, 0)                                    # Monday
    assert deadlines.due_at(start, 5) == cst(2027, 1, 5, 10, 0)          # 29, 30, 31 Dec; 4, 5 Jan
    assert workdays.working_days_between(start, cst(2027, 1, 5, 10, 0)) == 5


def test_a_process_helper_and_the_legal_clock_count_alike(cal, app, tmp_path, monkeypatch):
    from workflows.bpmn.helpers import HELPERS
    from workflows.bpmn.limits import DEFAULT_LIMITS
    from workflows.bpmn.sandbox import Sandbox, action_budget

    sandbox = Sandbox()
    with action_budget(DEFAULT_LIMITS):
        helper = sandbox.evaluate("add_working_days(date(2026, 9, 30), 3)", {})
        between = sandbox.evaluate("working_days(date(2026, 9, 30), date(2026, 10, 10))", {})
        back = sandbox.evaluate("add_working_days(date(2026, 10, 10), -3)", {})
    assert helper == date(2026, 10, 10) == clock.china(workdays.add_working_days(cst(2026, 9, 30, 9, 0), 3)).date()
    assert between == 3 and back == date(2026, 9, 30)
    assert HELPERS["is_working_day"](date(2026, 10, 10)) and not HELPERS["is_working_day"](date(2026, 10, 5))

    # an imported year reaches both; the engine reads it before the action's budget, never inside a script
    doc = {"year": 2030, "holidays": [{"date": "2030-03-05"}], "workdays": [{"date": "2030-03-09"}]}
    assert app.test_cli_runner().invoke(cli, ["calendar", "import", write(tmp_path, doc)]).exit_code == 0
    workdays.clear_cache()                        # as another process, whose copy is older than a minute
    reads, real = [], workdays.CalendarYear._get_collection
    monkeypatch.setattr(workdays.CalendarYear, "_get_collection", lambda: reads.append(1) or real())
    with action_budget(DEFAULT_LIMITS):
        before = len(reads)
        assert sandbox.evaluate("add_working_days('2030-03-04', 2)", {}) == date(2030, 3, 7)
        assert sandbox.evaluate("is_working_day(date(2030, 3, 9))", {}) is True
        assert len(reads) == before == 1         # read once, outside the scripts
    assert workdays.add_working_days(cst(2030, 3, 4, 9, 0), 2) == cst(2030, 3, 7, 9, 0)
    assert sum(HELPERS["is_working_day"](date(2030, 3, 1) + timedelta(days=n)) for n in range(30)) == \
        workdays.working_days_between(cst(2030, 2, 28, 9, 0), cst(2030, 3, 30, 9, 0))


def test_reminders_and_escalations_fall_in_working_hours(cal):
    from workflows.cases.clock import deadlines

    # 75 % of 5 working days from Tuesday 10:00 is Saturday 04:00: the reminder waits for Monday 09:00
    assert workdays.add_working_days(cst(2026, 11, 24, 10, 0), 3.75) == cst(2026, 11, 28, 4, 0)
    assert deadlines.remind_at(cst(2026, 11, 24, 10, 0), 5) == cst(2026, 11, 30, 9, 0)
    assert deadlines.remind_at(cst(2026, 11, 23, 9, 30), 5) == cst(2026, 11, 27, 9, 0)     # Friday 03:30 → 09:00
    assert deadlines.remind_at(cst(2026, 11, 23, 20, 0), 5) == cst(2026, 11, 27, 14, 0)     # already in hours
    # a one-day limit from Monday 08:00 is due Tuesday 08:00: remind at the last working hour before it
    assert deadlines.due_at(cst(2026, 11, 30, 8, 0), 1) == cst(2026, 12, 1, 8, 0)
    assert deadlines.remind_at(cst(2026, 11, 30, 8, 0), 1) == cst(2026, 11, 30, 17, 0)
    assert deadlines.in_working_hours(cst(2026, 12, 2, 8, 0)) == cst(2026, 12, 2, 9, 0)
    assert deadlines.in_working_hours(cst(2026, 12, 2, 12, 0)) == cst(2026, 12, 2, 12, 0)
    assert deadlines.in_working_hours(cst(2026, 12, 2, 18, 0)) == cst(2026, 12, 3, 9, 0)
    assert deadlines.in_working_hours(cst(2026, 9, 30, 18, 0)) == cst(2026, 10, 8, 9, 0)            # over 国庆
    assert deadlines.in_working_hours(cst(2026, 10, 9, 20, 0)) == cst(2026, 10, 10, 9, 0)           # 调休 Saturday
    for n in range(0, 24 * 14, 5):                       # any time in two weeks: a working day, 09:00–17:00
        at = clock.china(deadlines.in_working_hours(cst(2026, 12, 24, 0, 0) + timedelta(hours=n)))
        assert workdays.is_working_day(at.date()) and "09:00" <= at.strftime("%H:%M") <= "17:00", at


def test_import_moves_open_deadlines_and_leaves_closed_cases_alone(case, app, tmp_path, cal):
    from workflows.cases.applications.models import Application
    from workflows.cases.clock import deadlines
    from workflows.cases.tasks.models import HumanTask

    open_one, closed, reminded = case.submit(), case.submit(good_data(address="另一户")), \
        case.submit(good_data(address="第三户"))
    start = cst(2030, 3, 4, 10, 0)                      # Monday; 2030 has no calendar: Monday to Friday
    due, remind = deadlines.due_at(start, 5), deadlines.remind_at(start, 5)
    assert due == cst(2030, 3, 11, 10, 0) and remind == cst(2030, 3, 8, 9, 0)
    for one in (open_one, closed, reminded):
        Application.objects(id=one["id"]).update_one(set__submitted_at=start, set__due_at=due, set__remind_at=remind)
        HumanTask.objects(application_id=one["id"]).update(set__due_at=due)
        Application._get_collection().update_one({"_id": ObjectId(one["id"])},
                                                 {"$set": {"current_steps.0.due_at": due}})
    Application.objects(id=closed["id"]).update_one(set__status="approved")
    Application.objects(id=reminded["id"]).update_one(set__reminded_at=remind)
    before = {a.id: a.version for a in Application.objects}

    doc = {"year": 2030, "source": "test", "holidays": [{"date": "2030-03-05"}, {"date": "2030-03-06"}],
           "workdays": []}
    result = app.test_cli_runner().invoke(cli, ["calendar", "import", write(tmp_path, doc)])
    assert result.exit_code == 0, result.output
    assert "moved the deadline or reminder of 2 open cases" in result.output

    moved, left, sent = (Application.objects(id=x["id"]).first() for x in (open_one, closed, reminded))
    assert clock.as_utc(moved.due_at) == cst(2030, 3, 13, 10, 0)            # two working days later
    assert clock.as_utc(moved.remind_at) == cst(2030, 3, 12, 9, 0)           # Mon 11 10:00 + 18 h → Tue 04:00 → 09:00
    assert clock.as_utc(moved.current_steps[0].due_at) == cst(2030, 3, 13, 10, 0)
    assert {clock.as_utc(t.due_at) for t in HumanTask.objects(application_id=moved.id)} == {cst(2030, 3, 13, 10, 0)}
    assert moved.version == before[moved.id] + 1
    assert clock.as_utc(left.due_at) == due and left.version == before[left.id]          # closed: untouched
    assert {clock.as_utc(t.due_at) for t in HumanTask.objects(application_id=left.id)} == {due}
    assert clock.as_utc(sent.due_at) == cst(2030, 3, 13, 10, 0)
    assert clock.as_utc(sent.remind_at) == remind                            # a reminder already sent stays
    from core.audit import AuditRecord
    assert AuditRecord.objects(action="calendar.import").first().details["moved"] == 2

    again = app.test_cli_runner().invoke(cli, ["calendar", "import", write(tmp_path, doc)])
    assert "moved the deadline or reminder of 0 open cases" in again.output     # nothing left to move


def _samples(text: str) -> dict:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_readyz_and_metrics_show_the_years_and_whether_next_year_is_official(client, app, tmp_path, cal,
                                                                           monkeypatch):
    ready = client.get("/readyz").json["calendar"]
    years = {y["year"]: y for y in ready["years"]}
    assert years[2026] == {"year": 2026, "origin": "shipped", "official": True}
    assert years[2027] == {"year": 2027, "origin": "shipped", "official": False}
    following = clock.china_today().year + 1
    assert ready["next_year"] == following
    assert ready["next_year_official"] is bool(years.get(following, {}).get("official"))
    assert workdays.status(today=date(2026, 11, 1))["next_year_official"] is False
    assert workdays.status(today=date(2026, 11, 1))["this_year_official"] is True

    samples = _samples(client.get("/metrics").get_data(as_text=True))
    assert samples[("zhangban_calendar_year_official", frozenset({("year", "2026")}))] == 1
    assert samples[("zhangban_calendar_year_official", frozenset({("year", "2027")}))] == 0
    assert ("zhangban_calendar_year_official", frozenset({("year", "2031")})) not in samples
    assert ("zhangban_calendar_next_year_official", frozenset()) in samples

    # the official notice imported: both say so at once in this process (within a minute in the others)
    doc = dict(workdays.shipped(2027), provisional=False, source="国务院办公厅关于2027年部分节假日安排的通知（test）")
    assert app.test_cli_runner().invoke(cli, ["calendar", "import", write(tmp_path, doc)]).exit_code == 0
    assert {y["year"]: y for y in client.get("/readyz").json["calendar"]["years"]}[2027] == \
        {"year": 2027, "origin": "database", "official": True}
    samples = _samples(client.get("/metrics").get_data(as_text=True))
    assert samples[("zhangban_calendar_year_official", frozenset({("year", "2027")}))] == 1

    # scrapes read the database's years at most once a minute
    reads, real = [], workdays.CalendarYear._get_collection
    monkeypatch.setattr(workdays.CalendarYear, "_get_collection", lambda: reads.append(1) or real())
    for _ in range(5):
        client.get("/metrics")
        client.get("/readyz")
    assert len(reads) <= 1


def test_the_alert_rule_fires_from_november_while_next_year_is_not_official():
    from pathlib import Path

    rules = yaml.safe_load((Path(__file__).resolve().parent.parent / "deploy/prometheus/alerts.yml").read_text())
    [group] = [g for g in rules["groups"] if g["name"] == "zhangban-calendar"]
    by_name = {r["alert"]: r for r in group["rules"]}
    expr = by_name["ZhangbanCalendarNextYearNotOfficial"]["expr"]
    assert "zhangban_calendar_next_year_official" in expr and "month(vector(time() + 8 * 3600)) >= 11" in expr
    assert "zhangban_calendar_this_year_official" in by_name["ZhangbanCalendarThisYearNotOfficial"]["expr"]
