"""JSON logs, one line per request, and the request id (X-Request-ID accepted and echoed)."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import g, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("zhangban.access")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        # UTC with its zone and milliseconds (the server's zone and a whole second said nothing certain)
        at = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        entry = {"time": at, "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    """Stamp every log line made during a request with its id."""

    def filter(self, record):
        from flask import has_request_context
        if has_request_context() and "request_id" in g:
            record.fields = {"request_id": g.request_id, **getattr(record, "fields", {})}
        return True


def configure(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_zhangban", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        handler._zhangban = True
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def install(app) -> None:
    @app.before_request
    def start_request():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.actor = None   # g can outlive a request (an outer app context); never reuse a previous caller

    @app.after_request
    def finish_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        actor = g.get("actor")
        access_log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            "request_id": g.get("request_id"), "user_id": actor.user_id if actor else None}})
        return response
