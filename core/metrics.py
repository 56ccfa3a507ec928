"""Prometheus metrics the rooms record (issue 14, item 5); `/metrics` (api/metrics_views.py) serves them.

Multiprocess-safe under gunicorn: `zhangban serve` sets PROMETHEUS_MULTIPROC_DIR (an empty directory under the
data dir) before the workers start, so prometheus_client keeps every worker's values in files there and
`/metrics` adds them up across workers; api/gunicorn_conf.py marks a worker's files dead when it exits. Without
that variable (tests, the Flask dev server) each process counts on its own.

Labels stay bounded: the route is the URL rule (`/api/v1/applications/<app_id>`), never the raw path; a process
is "key@version" of a published version; kinds are the upload kinds and the incident kinds.
"""
from __future__ import annotations

import os

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CPU_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

REQUESTS = Counter("zhangban_http_requests", "HTTP requests by method, route (the URL rule) and status",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("zhangban_http_request_seconds", "Time to answer a request, by method and route",
                            ["method", "route"], buckets=LATENCY_BUCKETS)
ENGINE_CPU_SECONDS = Histogram("zhangban_engine_action_cpu_seconds",
                               "CPU time of one engine action (start, complete, message, timers …) by process "
                               "version and action", ["process", "action"], buckets=CPU_BUCKETS)
ENGINE_INCIDENTS = Counter("zhangban_engine_incidents", "Engine actions that ended in an incident, by process "
                           "version and kind (timeout and memory are CPU, step and size limits)", ["process", "kind"])
ENGINE_REFUSALS = Counter("zhangban_engine_refusals", "Engine actions refused before they ran: an account's CPU "
                          "budget or concurrent actions (429), a suspended process version (503)", ["reason"])
BREAKERS_OPENED = Counter("zhangban_engine_breakers_opened", "Process versions suspended after repeated limit hits",
                          ["process"])
UPLOADS = Counter("zhangban_uploads", "Uploads by kind and outcome (stored, or the refusal's code)",
                  ["kind", "outcome"])
UPLOAD_BYTES = Counter("zhangban_upload_bytes", "Bytes stored for new uploads (the full rendition), by kind",
                       ["kind"])
IMAGE_SECONDS = Histogram("zhangban_image_seconds", "Wall time to check, decode and render one upload, by kind",
                          ["kind"], buckets=LATENCY_BUCKETS)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
