"""gunicorn's settings for `zhangban serve` (`--config python:api.gunicorn_conf`).

gunicorn refuses some requests before the app sees them: a request line over 8 kB (414, e.g. a 100 kB query
string), a header over 8 kB (431, e.g. a 100 kB Authorization header), too many headers, a malformed request
(400). Its limits stay — they keep huge requests out of the workers — but its answers come in the one error
shape (docs/errors.md) instead of an HTML page: `post_worker_init` gives each worker a JSON `write_error`.

Workers are threaded (`gthread`): a request that keeps the engine busy for seconds holds one thread, not the
worker, so /healthz and /readyz still answer beside it (issue 14, item 1; tests/perf/test_quota_bench.py).
With PROMETHEUS_MULTIPROC_DIR set, the workers' metrics add up in /metrics (core/metrics.py): the directory is
emptied when gunicorn starts, and a worker's files are marked dead when it exits.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from gunicorn import util

# gunicorn's defaults, stated: the largest request line and header the app ever sees
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 100

worker_class = "gthread"
threads = 4      # per worker; `zhangban serve --threads` (or gunicorn's --threads) overrides it

CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "bad_request",
         431: "headers_too_large", 500: "internal_error", 501: "not_implemented"}


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn.util.write_error, answering in the one error shape. The headers were not read, so the message
    is in zh-CN (the default language) and the request id is a new one."""
    from api import i18n

    code = CODES.get(status_int, "bad_request" if status_int < 500 else "internal_error")
    request_id = secrets.token_hex(8)
    body = json.dumps({"code": code, "message": i18n.message(code, lang="zh-CN"), "errors": [],
                       "request_id": request_id}, ensure_ascii=False).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_worker_init(worker):
    util.write_error = write_json_error
    # A thread back from a socket wait (a health check) waits for a CPU-bound thread (the engine) to hand over
    # the GIL; 1 ms instead of Python's 5 ms bounds each such wait (on the shared bench machine the difference
    # was within the noise: tests/perf/test_quota_bench.py)
    sys.setswitchinterval(0.001)


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):   # a previous run's values would be added to this one's
            stale.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
