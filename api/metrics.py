"""/metrics in Prometheus' text format (issue 14, item 5), for the addresses in ZHANGBAN_METRICS_ALLOW only
(loopback by default; anyone else gets the 404 of a path that does not exist).

Requests are counted by the URL rule that matched (`/api/v1/applications/<app_id>`, not the raw path), method
and status, with a latency histogram; the engine, uploads and images record their own (core/metrics.py). Under
`zhangban serve` the values of every gunicorn worker add up (PROMETHEUS_MULTIPROC_DIR). What waits for the timer
and notification workers is read from MongoDB at scrape time, so it is right whichever process or machine runs
the workers. The working-day calendar's years (`zhangban_calendar_year_official`, `…_next_year_official`) come from
the process's copy of `calendar_years`, read at most once a minute (core/workdays.py), not on every scrape.
"""
from __future__ import annotations

import ipaddress
import logging
import time

from flask import Response, abort, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from pymongo.errors import PyMongoError

from api.http import client_address
from core import metrics

log = logging.getLogger(__name__)


class Backlog:
    """Timer lag and outbox depth, read when scraped."""

    def collect(self):
        from workflows.cases import worker

        try:
            found = worker.backlog()
        except PyMongoError:
            log.warning("metrics: the database is unreachable; backlog gauges left out")
            return
        for name, help_text in (
                ("timers_due", "BPMN timers due and not yet fired"),
                ("timers_lag_seconds", "How long the oldest due timer has waited for a worker (worker lag)"),
                ("outbox_due", "WeChat messages due and not yet sent (outbox depth)"),
                ("outbox_lag_seconds", "How long the oldest due message has waited for a worker"),
                ("results_due", "Approved cases whose result documents the worker has not made yet"),
                ("results_lag_seconds", "How long the oldest of them has waited"),
                ("stats_due", "Cases whose last movement the worker has not added to the statistics yet"),
                ("stats_lag_seconds", "How long the oldest of them has waited"),
                ("deferred_due", "Applications still carrying audit records or messages for the worker to move on"),
                ("deferred_lag_seconds", "How long the oldest of them has waited")):
            yield GaugeMetricFamily(f"zhangban_{name}", help_text, value=found[name])


class Calendar:
    """The working-day years known (imported or shipped): 1 official, 0 provisional; a year not listed is counted
    Monday to Friday. deploy/prometheus/alerts.yml fires from 1 November while next year's is not official."""

    def collect(self):
        from core import workdays

        workdays.refresh(quiet=True)
        found = workdays.status(load=False)
        years = GaugeMetricFamily("zhangban_calendar_year_official", "A working-day calendar year known to the "
                                  "app: 1 official, 0 provisional (absent: counted Monday to Friday)", labels=["year"])
        for year in found["years"]:
            years.add_metric([str(year["year"])], 1 if year["official"] else 0)
        yield years
        yield GaugeMetricFamily("zhangban_calendar_this_year_official", "1 when this year's working-day calendar "
                                "(China time) is official, else 0", value=1 if found["this_year_official"] else 0)
        yield GaugeMetricFamily("zhangban_calendar_next_year_official", "1 when next year's working-day calendar "
                                "(China time) is official, else 0", value=1 if found["next_year_official"] else 0)


def _allowed(networks) -> bool:
    try:
        address = ipaddress.ip_address(client_address())
    except ValueError:
        return False
    return any(address in network for network in networks)


def install(app, settings) -> None:
    networks = [ipaddress.ip_network(n) for n in settings.metrics_allow]
    backlog = CollectorRegistry(auto_describe=True)
    backlog.register(Backlog())
    backlog.register(Calendar())

    @app.after_request
    def count_request(response):
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        metrics.REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        started = g.get("started")
        if started is not None:
            metrics.REQUEST_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def prometheus_metrics():
        if not _allowed(networks):
            abort(404)
        if metrics.multiprocess():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            body = generate_latest(registry)
        else:
            body = generate_latest(REGISTRY)
        return Response(body + generate_latest(backlog), content_type=CONTENT_TYPE_LATEST)
