"""The working-day calendar: the shipped 2026 arrangement, `zhangban calendar import`, the weekends-only fallback."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

from api.cli import cli
from core import clock, workdays
from tests.time_fixtures import cal, cst, write  # noqa: F401 (fixture)


def test_the_shipped_2026_arrangement(cal):
    assert workdays.year_of(2026).origin == "shipped"
    off = ["2026-01-01", "2026-01-02", "2026-02-16", "2026-02-23", "2026-04-06", "2026-05-04", "2026-05-05",
           "2026-06-19", "2026-09-25", "2026-10-01", "2026-10-07"]
    working_weekends = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
    assert not any(workdays.is_working_day(date.fromisoformat(d)) for d in off)
    assert all(workdays.is_working_day(date.fromisoformat(d)) for d in working_weekends)
    assert workdays.is_working_day(date(2026, 9, 30)) and not workdays.is_working_day(date(2026, 10, 11))   # Wed; Sun
    # 365 days: 104 weekend days, 33 holidays of which 19 fall on weekdays, 6 working weekend days
    assert sum(workdays.is_working_day(date(2026, 1, 1) + timedelta(days=n)) for n in range(365)) == 365 - 104 - 19 + 6


def test_deadlines_skip_the_golden_week_and_count_its_working_saturday(cal):
    start = cst(2026, 9, 29, 10, 0)                                     # Tuesday
    assert workdays.add_working_days(start, 1) == cst(2026, 9, 30, 10, 0)
    assert workdays.add_working_days(start, 2) == cst(2026, 10, 8, 10, 0)     # 1–7 October off
    assert workdays.add_working_days(start, 4) == cst(2026, 10, 10, 10, 0)    # Saturday 10 October is a working day
    assert workdays.add_working_days(start, 5) == cst(2026, 10, 12, 10, 0)
    assert workdays.add_working_days(cst(2026, 2, 13, 9, 0), 1) == cst(2026, 2, 14, 9, 0)   # 春节: Saturday works
    assert workdays.add_working_days(cst(2026, 2, 13, 9, 0), 2) == cst(2026, 2, 24, 9, 0)
    assert workdays.add_working_days(start, 3.75) == cst(2026, 10, 10, 4, 0)  # a fraction is that part of 24 hours
    assert workdays.working_days_between(start, cst(2026, 10, 12, 8, 0)) == 5
    assert workdays.working_days_between(start, cst(2026, 9, 29, 23, 0)) == 0
    assert workdays.working_days_between(cst(2026, 10, 12, 8, 0), start) == 0


def test_days_are_china_days_whatever_the_utc_date(cal):
    late = datetime(2026, 9, 30, 17, 0, tzinfo=timezone.utc)           # 1 October 01:00 in Beijing
    assert clock.china(late).date() == date(2026, 10, 1)
    assert workdays.add_working_days(late, 1) == datetime(2026, 10, 7, 17, 0, tzinfo=timezone.utc)   # 8 Oct 01:00 CST
    naive = datetime(2026, 9, 30, 17, 0)                                # as MongoDB returns it: UTC
    assert workdays.add_working_days(naive, 1) == workdays.add_working_days(late, 1)


def test_a_year_without_a_calendar_counts_weekdays_and_says_so(cal, caplog):
    with caplog.at_level(logging.WARNING, logger="core.workdays"):
        assert workdays.add_working_days(cst(2031, 1, 3, 9, 0), 1) == cst(2031, 1, 6, 9, 0)   # Fri → Mon
    assert workdays.year_of(2031).origin == "weekends-only"
    assert any("no calendar for 2031" in r.getMessage() for r in caplog.records)


def test_import_stores_a_year_and_it_wins_over_the_shipped_file(app, cal, tmp_path):
    from core.workdays import CalendarYear

    doc = {"year": 2026, "source": "test", "holidays": [{"date": "2026-12-01", "name": "测试假日"}],
           "workdays": [{"date": "2026-12-05", "name": "调休"}]}
    result = app.test_cli_runner().invoke(cli, ["calendar", "import", write(tmp_path, doc)])
    assert result.exit_code == 0, result.output
    assert "calendar 2026: 1 holidays, 1 working weekend days (official)" in result.output
    assert CalendarYear.objects(id=2026).first().source == "test"
    assert workdays.year_of(2026).origin == "database"
    assert not workdays.is_working_day(date(2026, 12, 1)) and workdays.is_working_day(date(2026, 12, 5))
    assert workdays.is_working_day(date(2026, 10, 1))     # the imported year replaces the shipped one whole
    shown = app.test_cli_runner().invoke(cli, ["calendar", "show", "2026"])
    assert "calendar 2026: database" in shown.output and "2026-12-01" in shown.output
    from core.audit import AuditRecord
    assert AuditRecord.objects(action="calendar.import").count() == 1


def test_import_refuses_a_bad_file_naming_each_date_and_stores_nothing(app, cal, tmp_path):
    from core.workdays import CalendarYear

    doc = {"year": 2027, "holidays": [{"date": "2027-02-30"}, {"date": "2028-01-01"}, {"date": "2027-05-03"},
                                      {"date": "2027-05-03"}, {"date": "2027-10-09"}],
           "workdays": [{"date": "2027-10-09"}, {"date": "2027-10-11"}]}
    result = app.test_cli_runner().invoke(cli, ["calendar", "import", write(tmp_path, doc)])
    assert result.exit_code == 1
    lines = result.output
    assert "/holidays/0/date: 2027-02-30 is not a date" in lines
    assert "/holidays/1/date: 2028-01-01 is not in 2027" in lines
    assert "/holidays/3/date: 2027-05-03 is listed twice" in lines
    assert "/workdays/0/date: 2027-10-09 is both a holiday and a workday" in lines
    assert "/workdays/1/date: 2027-10-11 is a weekday" in lines and "调休上班日应为周六或周日" in lines
    assert CalendarYear.objects.count() == 0

    shape = app.test_cli_runner().invoke(cli, ["calendar", "import", write(tmp_path, {"year": "x", "holidays": [
        {"day": "2027-01-01"}]})])
    assert shape.exit_code == 1 and "/year:" in shape.output and "/holidays/0:" in shape.output
    assert "workdays" in shape.output
    (tmp_path / "junk.json").write_bytes(b"\xff{")
    junk = app.test_cli_runner().invoke(cli, ["calendar", "import", str(tmp_path / "junk.json")])
    assert junk.exit_code == 1 and "not a JSON file" in junk.output
    assert CalendarYear.objects.count() == 0


def test_the_shipped_file_passes_its_own_check(cal):
    doc = workdays.shipped(2026)
    checked = cal.check(doc)
    assert len(checked.holidays) == 33 and len(checked.workdays) == 6
    assert "国务院办公厅关于2026年部分节假日安排的通知" in doc["source"]


def test_a_long_limit_walks_across_years_without_calendars(cal, caplog):
    with caplog.at_level(logging.WARNING, logger="core.workdays"):
        due = workdays.add_working_days(cst(2026, 12, 31, 9, 0), 600)
    assert due.year == 2029 and workdays.working_days_between(cst(2026, 12, 31, 9, 0), due) == 600
    assert workdays.year_of(2027).origin == "shipped"
    assert {workdays.year_of(y).origin for y in (2028, 2029)} == {"weekends-only"}
    assert sum("no calendar for" in r.getMessage() for r in caplog.records) == 2
