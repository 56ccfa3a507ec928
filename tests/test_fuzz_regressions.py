"""Requests a schemathesis run against /api/openapi.json turned into 500s (or bodies outside the one error shape),
one deterministic test each. The fuzz run itself is not part of the suite; these pin what it found."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.workflows_fixtures import BASE as PROCESSES, example, simple_form

SURROGATE_BODY = b'{"key": "sur", "title": "\\ud800", "department": "%s", "schema": {"type": "object"}}'


def assert_error_shape(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert set(r.json) == {"code", "message", "errors", "request_id"}, r.json
    if code:
        assert r.json["code"] == code, r.json


@pytest.fixture
def designer(make_staff, department):
    return make_staff("fuzz-designer", [{"role": "designer", "department_id": department["id"]}])[1]


@pytest.fixture
def published_form(client, designer, department):
    r = client.post("/api/v1/designer/forms", json={"key": "review", "title": "review", "department": department["id"],
                                                    "schema": simple_form("review")}, headers=designer)
    assert r.status_code == 201, r.json
    assert client.post("/api/v1/designer/forms/review/publish", headers=designer).status_code == 201
    return "review"


@pytest.fixture
def published_process(client, designer, department, published_form):
    xml = example("user_task_form.bpmn").replace('name="civil"', f'name="{department["code"]}"')
    r = client.post(PROCESSES, json={"key": "user_task_form", "name": "审核", "department": department["id"],
                                     "bpmn_xml": xml, "dmn": []}, headers=designer)
    assert r.status_code == 201, r.json
    assert client.post(f"{PROCESSES}/user_task_form/publish", headers=designer).status_code == 201
    return "user_task_form"


# -- version numbers past int64 were a 500 (OverflowError from the MongoDB driver) ------------------------------

def test_a_twenty_digit_form_version_is_not_found(client, designer, published_form):
    r = client.get("/api/v1/designer/forms/review/versions/19918343628188778496", headers=designer)
    assert_error_shape(r, 404, "not_found")
    assert client.get("/api/v1/designer/forms/review/versions/1", headers=designer).status_code == 200


def test_twenty_digit_process_versions_are_not_found(client, designer, published_process):
    big = "99999999999999999999"
    assert_error_shape(client.get(f"{PROCESSES}/user_task_form/versions/{big}", headers=designer), 404)
    assert_error_shape(client.post(f"{PROCESSES}/user_task_form/versions/{big}/test-runs", json={"data": {}},
                                   headers=designer), 404)


def test_the_version_range_is_in_the_openapi_document(client):
    doc = client.get("/api/openapi.json").json
    params = doc["paths"]["/api/v1/designer/forms/{key}/versions/{number}"]["parameters"]
    number = next(p for p in params if p["name"] == "number")
    assert number["schema"]["minimum"] == 1 and number["schema"]["maximum"] == 999999999


def test_a_twenty_digit_if_match_is_a_stale_etag(client, designer, published_process, published_form):
    # form archive and the process draft PUT sent it straight into a MongoDB query
    big = {"If-Match": '"99999999999999999999"'}
    assert_error_shape(client.post("/api/v1/designer/forms/review/archive", headers={**designer, **big}), 412)
    assert_error_shape(client.put(f"{PROCESSES}/user_task_form", json={"name": "x"},
                                  headers={**designer, **big}), 412)
    from forms.models import FormDraft
    from workflows.bpmn.models import ProcessDraft
    assert FormDraft.objects(key="review").get().status != "archived"     # nothing was written
    assert ProcessDraft.objects(key="user_task_form").get().name != "x"


@pytest.mark.parametrize("value", ["\u00b2", "\uff11"])   # "²" and a full-width 1: str.isdigit() says yes
def test_a_non_ascii_digit_if_match_is_a_stale_etag(client, designer, published_form, value):
    headers = {**designer, "If-Match": value.encode().decode("latin-1")}
    assert_error_shape(client.post("/api/v1/designer/forms/review/archive", headers=headers), 412)


def test_a_superscript_form_version_is_not_found(client, resident_headers, published_form):
    assert_error_shape(client.get("/api/v1/forms/review/versions/%C2%B2", headers=resident_headers), 404)
    assert client.get("/api/v1/forms/review/versions/1", headers=resident_headers).status_code == 200


def test_a_superscript_form_version_in_bpmn_is_a_problem_not_a_crash(client, designer, department,
                                                                     published_form):
    xml = example("user_task_form.bpmn").replace('name="civil"', f'name="{department["code"]}"').replace(
        '<spiffworkflow:property name="formKey" value="review" />',
        '<spiffworkflow:property name="formKey" value="review" />'
        '<spiffworkflow:property name="formVersion" value="\u00b2" />')
    r = client.post(PROCESSES, json={"key": "sup", "name": "p", "department": department["id"], "bpmn_xml": xml,
                                     "dmn": []}, headers=designer)
    assert r.status_code == 201, r.json
    r = client.post(f"{PROCESSES}/sup/validate", headers=designer)
    assert r.status_code == 200, r.json
    assert r.json["valid"] is False
    assert [e["code"] for e in r.json["errors"]] == ["form_version_unknown"]


# -- JSON Python parses but MongoDB cannot store (or clients cannot read back) -----------------------------------

def test_an_unpaired_surrogate_is_invalid_json_naming_the_field(client, designer, department):
    r = client.post("/api/v1/designer/forms", data=SURROGATE_BODY % department["id"].encode(),
                    content_type="application/json", headers=designer)
    assert_error_shape(r, 400, "invalid_json")
    [item] = r.json["errors"]
    assert (item["path"], item["code"]) == ("/title", "invalid_unicode") and "Unicode" in item["message"]
    assert client.get("/api/v1/designer/forms/sur", headers=designer).status_code == 404   # nothing written


@pytest.mark.parametrize("path, body", [
    ("/api/v1/auth/login", b'{"username": "\\udc00", "password": "x"}'),
    ("/api/v1/departments", b'{"code": "x1", "name": "\\ud800"}'),
    ("/api/v1/designer/forms/review/validate", b'{"schema": {"type": "object", "properties": {"\\udc00": {}}}}'),
])
def test_unpaired_surrogates_anywhere_are_refused(client, admin_headers, designer, published_form, path, body):
    headers = admin_headers if "departments" in path else designer
    r = client.post(path, data=body, content_type="application/json", headers=headers)
    assert_error_shape(r, 400, "invalid_json")
    assert r.json["errors"][0]["code"] == "invalid_unicode"


def test_a_proper_surrogate_pair_is_an_ordinary_character(client, admin_headers):
    r = client.post("/api/v1/departments", data=b'{"code": "emoji", "name": "\\ud83d\\ude00 \xe6\xb0\x91\xe6\x94\xbf"}',
                    content_type="application/json", headers=admin_headers)
    assert r.status_code == 201, r.json
    assert r.json["name"] == "\U0001F600 民政"


def test_nan_and_infinity_are_not_json(client, designer, published_process):
    # they were stored in the test run's data and came back as bare NaN, which JSON.parse rejects
    r = client.post(f"{PROCESSES}/user_task_form/versions/1/test-runs", data=b'{"data": {"x": NaN, "y": -Infinity}}',
                    content_type="application/json", headers=designer)
    assert_error_shape(r, 400, "invalid_json")
    assert {(e["path"], e["code"]) for e in r.json["errors"]} == {("/data/x", "not_a_number"),
                                                                  ("/data/y", "not_a_number")}


def test_integers_beyond_64_bits_are_out_of_range(client, designer, published_process):
    url = f"{PROCESSES}/user_task_form/versions/1/test-runs"
    r = client.post(url, json={"data": {}}, headers=designer)
    assert r.status_code == 201, r.json
    task = r.json["ready_tasks"][0]["id"]
    r = client.post(f"{url}/{r.json['id']}/tasks/{task}/complete", json={"data": {"n": 10 ** 30}}, headers=designer)
    assert_error_shape(r, 422, "validation_failed")
    assert r.json["errors"][0]["path"] == "/data/n" and r.json["errors"][0]["code"] == "number_out_of_range"
    r = client.post(url, json={"data": {"n": 2 ** 63 - 1, "account": "6222020200112233445"}}, headers=designer)
    assert r.status_code == 201, r.json   # the largest int64 and 19-digit strings pass


def test_a_float_that_overflows_is_out_of_range(client, designer, published_process):
    r = client.post(f"{PROCESSES}/user_task_form/versions/1/test-runs", data=b'{"data": {"x": 1e999}}',
                    content_type="application/json", headers=designer)
    assert_error_shape(r, 422)
    assert r.json["errors"][0]["code"] == "number_out_of_range"


# -- dates whose UTC conversion leaves datetime's range ---------------------------------------------------------

@pytest.mark.parametrize("query", ["until=9999-12-31T23:59:59-14:00", "since=0001-01-01T00:00:00%2B14:00"])
def test_audit_dates_at_the_ends_of_time_are_validation_errors(client, admin_headers, query):
    r = client.get(f"/api/v1/audit?{query}", headers=admin_headers)
    assert_error_shape(r, 422, "validation_failed")
    assert r.json["errors"][0]["location"] == "query"


# -- multipart: a text field named `file` reached the service as a str ------------------------------------------

def test_a_text_part_named_file_is_a_validation_error(client, resident_headers):
    r = client.post("/api/v1/attachments", data={"kind": "photo", "file": "not a file"},
                    content_type="multipart/form-data", headers=resident_headers)
    assert_error_shape(r, 422, "validation_failed")
    assert r.json["errors"] == [{"path": "/file", "code": "invalid", "location": "multipart",
                                 "message": "Not a file: send it as a file part (with a filename)."}]


def test_a_photo_sent_as_a_file_part_is_still_stored(client, resident_headers):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "JPEG")
    r = client.post("/api/v1/attachments", data={"kind": "photo", "file": (io.BytesIO(buf.getvalue()), "p.jpg")},
                    content_type="multipart/form-data", headers=resident_headers)
    assert r.status_code == 201, r.json


# -- the OpenAPI document now says what the API does -------------------------------------------------------------

def test_error_items_document_location_and_extra_detail(client):
    item = client.get("/api/openapi.json").json["components"]["schemas"]["ErrorItem"]
    assert "location" in item["properties"]
    assert item.get("additionalProperties") is not False   # line/column, accepted, message_zh/message_en


def test_optional_bodies_are_documented_as_optional(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/v1/designer/forms/{key}/validate", "/api/v1/designer/processes/{key}/validate",
                 "/api/v1/designer/processes/{key}/versions/{number}/test-runs",
                 "/api/v1/designer/processes/{key}/versions/{number}/test-runs/{run_id}/timers"):
        assert paths[path]["post"]["requestBody"].get("required") is not True, path


def test_wechat_not_configured_is_documented(client):
    responses = client.get("/api/openapi.json").json["paths"]["/api/v1/auth/wechat"]["post"]["responses"]
    assert "503" in responses


def test_bytes_that_are_not_utf8_are_invalid_json(client, admin_headers):
    r = client.post("/api/v1/departments", data=b'{"code": "x1", "name": "\xff\xfe"}', content_type="application/json",
                    headers=admin_headers)
    assert_error_shape(r, 400, "invalid_json")
