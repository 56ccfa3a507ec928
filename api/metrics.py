"""/metrics in Prometheus' text format (issue 14, item 5), for the addresses in ZHANGBAN_METRICS_ALLOW only
(loopback by default; anyone else gets the 404 of a path that does not exist).

Requests are counted by the URL rule that matched (`/api/v1/applications/<app_id>`, not the raw path), method
and status, with a latency histogram; the engine, uploads and images record their own (core/metrics.py). Under
`zhangban serve` the values of every gunicorn worker add up (PROMETHEUS_MULTIPROC_DIR). What waits for the timer
and notification workers is read from MongoDB at scrape time, so it is right whichever process or machine runs
the workers.
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
