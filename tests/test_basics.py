"""App basics: health, readiness, OpenAPI and docs, and the one error shape for every failure."""
from __future__ import annotations

import pytest


def test_healthz_answers_without_touching_backends(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_checks_mongodb_and_the_object_store(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json["mongodb"] == "ok" and r.json["object_store"] == "filesystem object store"


def test_openapi_lists_every_endpoint_with_the_error_schema(client):
    spec = client.get("/api/openapi.json").json
    expected = ["/api/v1/auth/login", "/api/v1/auth/wechat", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                "/api/v1/me", "/api/v1/me/phone", "/api/v1/departments", "/api/v1/departments/{department_id}",
                "/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/users/{user_id}/roles",
                "/api/v1/users/{user_id}/roles/{role}", "/api/v1/users/{user_id}/disable", "/api/v1/audit",
                "/healthz", "/readyz"]
    for path in expected:
        assert path in spec["paths"], path
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "errors", "request_id"}
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert "requestBody" in login and "401" in login["responses"] and "429" in login["responses"]


def test_docs_ui_and_its_assets_are_served_locally(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html and "//cdn" not in html and "unpkg" not in html
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000


def _assert_error_shape(r, status, code):
    assert r.status_code == status, r.get_data(as_text=True)
    assert set(r.json) == {"code", "message", "errors", "request_id"}
    assert r.json["code"] == code and r.json["message"] and isinstance(r.json["errors"], list)
    assert r.json["request_id"] == r.headers["X-Request-ID"]


def test_unknown_path_is_404_in_the_error_shape(client):
    _assert_error_shape(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405_with_allow(client):
    r = client.delete("/api/v1/auth/login")
    _assert_error_shape(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_oversized_body_is_413(client, app):
    body = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    r = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    _assert_error_shape(r, 413, "payload_too_large")


def test_malformed_json_is_400_invalid_json(client):
    r = client.post("/api/v1/auth/login", data=b"{not json", content_type="application/json")
    _assert_error_shape(r, 400, "invalid_json")


def test_invalid_utf8_is_a_clear_4xx(client):
    r = client.post("/api/v1/auth/login", data=b'{"username": "\xff\xfe"}', content_type="application/json")
    assert 400 <= r.status_code < 500 and r.json["code"] in ("invalid_json", "validation_failed")


def test_wrong_types_name_the_field_by_json_pointer(client):
    r = client.post("/api/v1/auth/login", json={"username": 5})
    _assert_error_shape(r, 422, "validation_failed")
    paths = {e["path"] for e in r.json["errors"]}
    assert paths == {"/username", "/password"}


def test_message_language_follows_accept_language(client):
    zh = client.get("/api/v1/me")
    en = client.get("/api/v1/me", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert zh.json["message"] == "请先登录"
    assert en.json["message"] == "Please log in"


def test_request_id_is_accepted_and_echoed(client):
    r = client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert r.headers["X-Request-ID"] == "trace-123"
    hostile = client.get("/healthz", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert hostile.headers["X-Request-ID"] != "<script>" + "x" * 100 and len(hostile.headers["X-Request-ID"]) == 32


def test_unhandled_error_is_500_without_a_stack_trace_and_is_logged(settings, caplog):
    from api.app import create_app

    app = create_app(settings)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    with caplog.at_level("ERROR"):
        r = app.test_client().get("/boom", headers={"X-Request-ID": "req-boom"})
    _assert_error_shape(r, 500, "internal_error")
    assert "secret internals" not in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    logged = [rec for rec in caplog.records if rec.name == "zhangban.errors"]
    assert logged and logged[0].exc_info and logged[0].fields["request_id"] == "req-boom"


def test_every_request_writes_one_json_log_line(client, caplog):
    with caplog.at_level("INFO", logger="zhangban.access"):
        client.get("/healthz", headers={"X-Request-ID": "log-me"})
    lines = [rec for rec in caplog.records if rec.name == "zhangban.access"]
    assert len(lines) == 1
    fields = lines[0].fields
    assert fields["method"] == "GET" and fields["path"] == "/healthz" and fields["status"] == 200
    assert fields["request_id"] == "log-me" and fields["duration_ms"] >= 0 and "user_id" in fields
    import json
    import re

    from api.logs import JsonFormatter

    line = json.loads(JsonFormatter().format(lines[0]))     # what the log shows: UTC, its zone, milliseconds
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"]), line["time"]
