"""China time, one way: what a person reads as a day (a case's number, its licence, its statistics day, a newborn's
ID number) is the day in Beijing, whatever the server's zone. The clock is set (tests/time_fixtures.py), never read:
07:30 Beijing time on 15 June 2026 is 23:30 UTC on the 14th; 00:30 on the 15th is 16:30 UTC on the 14th.

These run under TZ=UTC and TZ=Asia/Shanghai in CI (the `dates` marker: tests/conftest.py, the README's Tests)."""
from __future__ import annotations

import io
import os
import time
from datetime import date, datetime, timezone

import pypdf
import pytest

from forms import formats
from tests.applications_fixtures import case, good_data  # noqa: F401 (fixture)
from tests.materials_fixtures import materials_case  # noqa: F401 (fixture)
from tests.stats_fixtures import approve, flush
from tests.time_fixtures import frozen_clock  # noqa: F401 (fixture)


MORNING = "2026-06-15 07:30"            # Beijing; the UTC date is still the 14th
MORNING_UTC = datetime(2026, 6, 14, 23, 30, tzinfo=timezone.utc)


def newborn_id(born: date) -> str:
    first17 = f"110105{born:%Y%m%d}001"
    return first17 + formats.id_card_check_char(first17)


def test_the_zone_asked_for_is_the_zone_in_force():
    """CI's second run asks for TZ=Asia/Shanghai; without the system's zone files (tzdata) it would silently run in
    UTC and prove nothing."""
    asked = os.environ.get("TZ")
    if asked not in ("Asia/Shanghai", "UTC"):
        pytest.skip(f"TZ is {asked!r}, neither UTC nor Asia/Shanghai: no zone to check (CI sets both)")
    assert time.localtime().tm_gmtoff == (8 * 3600 if asked == "Asia/Shanghai" else 0), f"TZ={asked} not in force"


def test_the_clock_is_set_and_china_time_follows(frozen_clock):
    from core import clock

    assert frozen_clock.china(MORNING, tick=False) == MORNING_UTC
    assert clock.now() == MORNING_UTC and clock.now().date() == date(2026, 6, 14)
    assert clock.china_today() == date(2026, 6, 15) and clock.china().hour == 7
    frozen_clock.thaw()
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_a_number_takes_the_china_day_of_its_instant(app):
    from workflows.cases.applications import cases

    with app.app_context():
        assert cases.next_number(MORNING_UTC) == "ZB2026061500001"
        assert cases.next_number(datetime(2026, 6, 14, 15, 59)) == "ZB2026061400001"     # naive is UTC: 23:59
        # 00:00 in Beijing: the 15th again (from the next block of its counter: a change of day leaves a gap)
        assert cases.next_number(datetime(2026, 6, 14, 16, 0)).startswith("ZB20260615")


def test_a_case_submitted_at_0730_beijing_carries_that_day_and_so_does_its_licence(materials_case, frozen_clock):
    from workflows.cases.materials import results

    case = materials_case
    signature = case.signature(case.civil_1)          # uploaded (and everyone logged in) at the real time
    frozen_clock.china(MORNING)
    submitted = case.submit()
    assert submitted["number"].startswith("ZB20260615"), submitted["number"]
    assert submitted["submitted_at"].startswith("2026-06-14T23:30")       # stored and answered in UTC

    [task] = case.todo(case.civil_1)
    case.act(case.civil_1, task, signature=signature)
    [task] = case.todo(case.housing_1)
    case.act(case.housing_1, task)
    app = case.client.application
    with app.app_context():                            # the worker's round, still before 08:00 in Beijing
        assert results.issue_due(app.extensions["zhangban"].store) == 1
    [licence] = [m for m in case.client.get("/api/v1/materials", headers=case.resident).json
                 if m["source"] == "licence"]
    assert licence["number"].startswith("DZ20260615") and licence["number"][2:] == submitted["number"][2:]
    assert licence["valid_from"] == "2026-06-15"
    r = case.client.get(f"/api/v1/attachments/{licence['attachment_id']}/content", headers=case.resident)
    assert r.status_code == 302, r.json
    text = pypdf.PdfReader(io.BytesIO(case.client.get(r.headers["Location"]).data)).pages[0].extract_text()
    assert "2026-06-15" in text and "2026-06-14" not in text


def test_the_statistics_day_of_a_case_submitted_before_8_is_the_china_day(case, admin_headers, frozen_clock):
    frozen_clock.china(MORNING)
    submitted = case.submit()
    approve(case, submitted)
    flush(case)

    def applications_on(day: str) -> int:
        r = case.client.get("/api/v1/stats", headers=admin_headers,
                            query_string={"from": day, "to": day, "group": "day"})
        assert r.status_code == 200, r.json
        return sum(row["applications"] for row in r.json["rows"])

    assert applications_on("2026-06-15") == 1 and applications_on("2026-06-14") == 0
    with case.client.application.app_context():
        from workflows.cases.applications.models import Application
        from workflows.cases.stats import rollups

        assert rollups.submit_day(Application.objects.get(id=submitted["id"])) == date(2026, 6, 15)
        assert rollups.differences(date(2026, 6, 14), date(2026, 6, 15)) == []      # a recount agrees


def test_a_newborns_id_number_is_valid_from_midnight_in_beijing(frozen_clock):
    born = date(2026, 6, 15)
    frozen_clock.china("2026-06-14 23:59")          # 15:59 UTC: not born yet
    assert not formats.is_cn_id_card(newborn_id(born))
    frozen_clock.china("2026-06-15 00:30")          # 16:30 UTC on the 14th: born today in China
    assert formats.is_cn_id_card(newborn_id(born))


def test_a_newborns_id_number_is_accepted_by_a_form_at_0030_beijing(case, frozen_clock):
    born = date(2026, 6, 15)
    frozen_clock.china("2026-06-14 23:59")
    refused = case.submit(good_data(id_card=newborn_id(born)), expect=422)
    assert "id_card" in str(refused)
    frozen_clock.china("2026-06-15 00:30")
    accepted = case.submit(good_data(id_card=newborn_id(born)))
    assert accepted["number"].startswith("ZB20260615")
