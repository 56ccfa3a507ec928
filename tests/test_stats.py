"""Statistics over HTTP: rollups kept as cases move (submit, 补正, approve, reject, withdraw, rate) equal a recount,
and admins and leads read them by department, service and period, as JSON or CSV."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from tests.stats_fixtures import (approve, case, civil_lead, flush, rate, reject,  # noqa: F401 (fixtures)
                                  return_and_supplement, withdraw)


def china_day(iso: str) -> date:
    from core import clock

    return clock.china(datetime.fromisoformat(iso.replace("Z", "+00:00"))).date()


def stats(case, headers, day, expect=200, **query):
    flush(case)          # the worker's round: the cases' movements reach the rollups
    query = {"from": (day - timedelta(days=1)).isoformat(), "to": (day + timedelta(days=1)).isoformat(), **query}
    r = case.client.get("/api/v1/stats", query_string=query, headers=headers)
    assert r.status_code == expect, r.json
    return r.json


def five_cases(case):
    """A approved first time, B approved after 补正, C rejected, D withdrawn, E still open; A rated 5, C rated 1."""
    a, b, c, d, e = (case.submit() for _ in range(5))
    approve(case, a)
    return_and_supplement(case, b)
    approve(case, b)
    reject(case, c)
    withdraw(case, d)
    rate(case, a["id"], 5)
    rate(case, c["id"], 1, comment="等了很久")
    flush(case)
    return china_day(a["submitted_at"])


def test_the_figures_follow_the_cases_and_equal_a_recount(case, admin_headers, app):
    from workflows.cases.stats import rollups

    day = five_cases(case)
    found = stats(case, admin_headers, day)
    [row] = found["rows"]
    assert row["department"] == case.civil["id"] and row["department_name"] == "民政局"
    assert {k: row[k] for k in ("applications", "online", "online_rate", "completed", "approved", "rejected",
                                "withdrawn", "completion_rate", "overdue", "overdue_rate", "first_time",
                                "first_time_rate", "rated", "good", "bad", "good_rate", "avg_score")} == {
        "applications": 5, "online": 5, "online_rate": 1.0, "completed": 3, "approved": 2, "rejected": 1,
        "withdrawn": 1, "completion_rate": 0.6, "overdue": 0, "overdue_rate": 0.0, "first_time": 2,
        "first_time_rate": 0.6667, "rated": 2, "good": 1, "bad": 1, "good_rate": 0.5, "avg_score": 3.0}
    assert row["avg_days"] == 0 and row["p90_days"] == 0          # all handled on the day they came in
    assert found["total"]["applications"] == 5

    by_service = stats(case, admin_headers, day, group="service")["rows"]
    assert [(r["service_code"], r["service_name"], r["applications"]) for r in by_service] == [
        ("residence", "居住证申领", 5)]
    by_day = stats(case, admin_headers, day, group="day")["rows"]
    assert [(r["period"], r["applications"]) for r in by_day] == [(day.isoformat(), 5)]
    by_month = stats(case, admin_headers, day, group="month", service="residence")["rows"]
    assert [(r["period"], r["completed"]) for r in by_month] == [(day.isoformat()[:7], 3)]
    assert stats(case, admin_headers, day, service="nothing")["rows"] == []

    with app.app_context():
        assert rollups.differences() == []
        # a year's documents too: the kept year equals a recount of the whole year
        assert rollups.differences(date(day.year, 1, 1), date(day.year, 12, 31)) == []


def test_a_year_reads_one_document_per_department(case, admin_headers, app):
    five_cases(case)
    day = china_day(case.submit()["submitted_at"])
    flush(case)
    year = case.client.get("/api/v1/stats", headers=admin_headers,
                           query_string={"from": f"{day.year}-01-01", "to": f"{day.year}-12-31"}).json
    assert year["rows"][0]["applications"] == 6
    from workflows.cases.stats.service import periods

    assert periods(date(day.year, 1, 1), date(day.year, 12, 31)) == [str(day.year)]
    assert periods(date(2026, 1, 30), date(2026, 3, 2)) == ["2026-01-30", "2026-01-31", "2026-02", "2026-03-01",
                                                             "2026-03-02"]


def test_staff_entered_applications_count_as_offline(case, admin_headers, app):
    from workflows.cases.applications.models import Application
    from workflows.cases.stats import rollups

    day = five_cases(case)
    from api.cli import cli

    with app.app_context():      # as the 帮办代办 path records a staff member's submission
        Application.objects(status="rejected").update(set__channel="offline")
        assert [d["id"] for d in rollups.differences()][:1]       # the kept rollups no longer match …
    checked = app.test_cli_runner().invoke(cli, ["stats", "check"])
    assert checked.exit_code == 1 and "9 rollup(s) differ" in checked.output
    busy = app.test_cli_runner().invoke(cli, ["stats", "rebuild"])        # cases changed a moment ago: refused
    assert busy.exit_code == 1 and "stop the API and the workers first" in busy.output
    assert [d["id"] for d in rollups.differences()][:1]
    # … until recounted with the service stopped
    rebuilt = app.test_cli_runner().invoke(cli, ["stats", "rebuild", "--quiet-seconds", "0"])
    assert rebuilt.exit_code == 0 and "wrote 9 rollup" in rebuilt.output, rebuilt.output
    assert app.test_cli_runner().invoke(cli, ["stats", "check"]).exit_code == 0
    row = stats(case, admin_headers, day)["rows"][0]
    assert (row["online"], row["online_rate"]) == (4, 0.8)


def test_a_case_completed_after_its_deadline_is_overdue(case, admin_headers, app):
    from workflows.cases.applications.models import Application
    from workflows.cases.stats import rollups

    late, on_time = case.submit(), case.submit()
    with app.app_context():
        from core import clock      # (a naive datetime.now() is the server's local time, not UTC: TZ=Asia/Shanghai)
        Application.objects(id=late["id"]).update(set__due_at=clock.now() - timedelta(hours=1))
    approve(case, late)
    approve(case, on_time)
    row = stats(case, admin_headers, china_day(late["submitted_at"]))["rows"][0]
    assert (row["completed"], row["overdue"], row["overdue_rate"]) == (2, 1, 0.5)
    with app.app_context():
        assert rollups.differences() == []


def test_requests_write_no_statistics_and_one_flush_adds_each_movement_once(case, admin_headers, app, settings):
    import threading

    from tests.perf.measure import counted_connection
    from workflows.cases.applications.models import Application
    from workflows.cases.stats import rollups
    from workflows.cases.stats.models import Rollup

    first, second = case.submit(), case.submit()
    approve(case, first)
    with app.app_context():
        assert Rollup.objects.count() == 0              # no request wrote to the rollups
        with counted_connection(settings) as counter:
            assert rollups.flush_due() == 2
        data = {k: v for k, v in counter.counts.items() if not k.startswith(("createIndexes", "endSessions"))}
        # is anything due, the lock, the cases, the lease's renewal (the fence), the rollups, the cases' marks, the
        # unlock (+ the lock's creation): per flush of up to 500 cases, off any request
        assert sum(data.values()) <= 9, data
        assert rollups.flush_due() == 0 and rollups.differences() == []
    withdraw(case, second)
    with app.app_context():
        # two workers at once: one takes the lock, the other adds nothing
        results = []
        barrier = threading.Barrier(2)

        def flusher():
            with app.app_context():
                barrier.wait()
                results.append(rollups.flush_due())
        threads = [threading.Thread(target=flusher) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sorted(results) == [0, 1]            # the case was flushed once, by whichever came first
        assert rollups.differences() == []          # so the withdrawal is counted once
        assert Application.objects(stats_due_at__ne=None).count() == 0
    row = stats(case, admin_headers, china_day(first["submitted_at"]))["rows"][0]
    assert (row["applications"], row["approved"], row["withdrawn"]) == (2, 1, 1)


def test_handling_days_count_working_days_less_the_pause():
    from workflows.cases.applications.models import Application, Event, Result
    from workflows.cases.stats import rollups
    from workflows.cases.stats.service import metrics

    china = lambda *a: datetime(*a) - timedelta(hours=8)    # noqa: E731 — a China time as naive UTC
    app = Application(status="approved", submitted_at=china(2026, 11, 2, 10), due_at=china(2026, 11, 9, 10),
                      result=Result(decision="approved", at=china(2026, 11, 13, 15)),
                      timeline=[Event(at=china(2026, 11, 2, 10), action="submitted"),
                                Event(at=china(2026, 11, 4, 9), action="returned"),
                                Event(at=china(2026, 11, 6, 9), action="supplemented", paused_days=2)])
    added = rollups.on_complete(app)
    # Monday to the next Friday: 9 working days after the 2nd, less the 2 paused; late; not first time
    assert (added["days_sum"], added["h.d7"], added["overdue"], added["first_time"]) == (7, 1, 1, 0)
    # p90 of ten cases taking 1…10 days: 9; and more than the histogram holds reads as 41
    counts = Counter(completed=10, days_sum=55, **{f"h_d{n}": 1 for n in range(1, 11)})
    assert (metrics(counts)["p90_days"], metrics(counts)["avg_days"]) == (9, 5.5)
    assert metrics(Counter(completed=1, h_over=1))["p90_days"] == 41
    assert metrics(Counter())["online_rate"] is None


def test_leads_see_their_departments_only(case, civil_lead, make_staff, admin_headers):
    day = five_cases(case)
    assert stats(case, civil_lead, day)["rows"][0]["applications"] == 5
    assert stats(case, civil_lead, day, department=case.civil["id"])["total"]["applications"] == 5
    refused = stats(case, civil_lead, day, expect=403, department=case.housing["id"])
    assert refused["code"] == "forbidden" and refused["message"] == "你不是该部门的负责人"
    _, housing_lead = make_staff("housing-lead")
    for headers in (case.civil_1, case.resident, housing_lead):
        assert stats(case, headers, day, expect=403)["code"] == "forbidden"


def test_bad_periods_are_named(case, admin_headers):
    r = case.client.get("/api/v1/stats", query_string={"from": "2026-02-01", "to": "2026-01-01"},
                        headers={**admin_headers, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/to"
    assert r.json["message"] == "The period ends before it starts"
    r = case.client.get("/api/v1/stats", query_string={"from": "2026-02-30", "to": "2026-03-01"}, headers=admin_headers)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/from"
    assert r.json["errors"][0]["location"] == "query"
    r = case.client.get("/api/v1/stats", query_string={"from": "2026-01-01", "to": "2026-12-31", "group": "day"},
                        headers=admin_headers)
    assert r.status_code == 422 and r.json["errors"][0]["path"] == "/to" and "93" in r.json["message"]
    r = case.client.get("/api/v1/stats", query_string={"from": "2020-01-01", "to": "2026-12-31"},
                        headers=admin_headers)
    assert r.status_code == 422 and r.json["code"] == "invalid"
    r = case.client.get("/api/v1/stats", query_string={"from": "2026-01-01", "to": "2026-01-02", "group": "x",
                                                       "department": "civil"}, headers=admin_headers)
    assert r.status_code == 422 and {e["path"] for e in r.json["errors"]} == {"/group", "/department"}


def test_the_csv_opens_in_excel(case, admin_headers):
    day = five_cases(case)
    query = {"from": day.isoformat(), "to": day.isoformat(), "group": "service"}
    r = case.client.get("/api/v1/stats/export.csv", query_string=query, headers=admin_headers)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.data.startswith(b"\xef\xbb\xbf")                     # the BOM Excel needs for UTF-8
    lines = r.data.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:5] == ["部门", "事项编码", "事项", "申请件数", "网上申请"]
    assert lines[1].split(",")[:8] == ["民政局", "residence", "居住证申领", "5", "5", "100.0%", "3", "60.0%"]
    assert lines[2].startswith("合计,")
    en = case.client.get("/api/v1/stats/export.csv", query_string=query,
                         headers={**admin_headers, "Accept-Language": "en"})
    assert en.data.decode("utf-8-sig").splitlines()[0].startswith("Department,Service code,Service,Applications")


def test_a_flush_paused_past_its_lease_adds_nothing_that_the_next_flush_adds(case, app, monkeypatch):
    """Two workers: the first reads the due cases, pauses past its lease; the second takes the lock and flushes.
    The first must not add the same cases again when it wakes."""
    from workflows.cases.stats import rollups
    from workflows.cases.stats.models import Rollup

    submitted = case.submit()
    reject(case, submitted)
    locks = Rollup._get_db()["stats_flush_lock"]
    real = rollups.contribution

    def pause_and_lose_the_lock(app_doc):
        # meanwhile the lease ran out and another worker took the lock (a token of its own)
        locks.update_one({"_id": "flush"}, {"$set": {"token": "the-other-worker"}})
        return real(app_doc)

    monkeypatch.setattr(rollups, "contribution", pause_and_lose_the_lock)
    with app.app_context():
        assert rollups.flush_due() == 0                       # fenced: it writes nothing
    monkeypatch.undo()
    with app.app_context():
        assert Rollup.objects.count() == 0
        locks.update_one({"_id": "flush"}, {"$set": {"until": rollups.clock.now() - rollups.FLUSH_LOCK}})
        assert rollups.flush_all() == 1                       # the other worker's flush, once
        [everything] = [r for r in Rollup.objects if r.scope == "all" and len(r.period) == 4]
        assert (everything.submitted, everything.rejected) == (1, 1)
        assert rollups.flush_all() == 0
