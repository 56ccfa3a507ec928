"""The residents' service catalogue: search over current versions (keyword, department, category, region, pages),
one service with its materials, limits and form, archived services gone."""
from __future__ import annotations

import pytest

from tests.services_fixtures import BASE, CATALOGUE, bound, create, publish, service_body  # noqa: F401
from tests.workflows_fixtures import civil_designer, forms, housing  # noqa: F401 (fixtures)
from workflows.cases.catalog.models import ServiceVersion


@pytest.fixture
def catalogue(client, civil_designer, admin_headers, department, housing, bound):
    """Three published services: two of civil affairs (Shenzhen; Guangdong), one of housing (nationwide)."""
    create(client, civil_designer, service_body(department["id"], bound))
    create(client, civil_designer, service_body(
        department["id"], bound, code="hy-002", name="婚姻登记证明", name_en="Marriage registration certificate",
        category="婚姻", description="开具婚姻登记记录证明", regions=["440000"], fee_fen=900))
    create(client, admin_headers, service_body(     # admins design for any department
        housing["id"], bound, code="bdc-003", name="不动产登记信息查询", name_en="Real estate record inquiry",
        category="不动产", description="查询本人名下不动产，跨省通办。", regions=["100000"], handling="both"))
    for code, headers in (("jzz-001", civil_designer), ("hy-002", civil_designer), ("bdc-003", admin_headers)):
        publish(client, headers, code)
    return {"civil": department["id"], "housing": housing["id"]}


def _codes(client, headers, **query):
    r = client.get(CATALOGUE, query_string=query, headers=headers)
    assert r.status_code == 200, r.json
    return [item["code"] for item in r.json["items"]]


def test_search_by_keyword_department_category_and_region(client, resident_headers, catalogue):
    r = client.get(CATALOGUE, headers=resident_headers)
    assert r.json["total"] == 3 and [i["code"] for i in r.json["items"]] == ["bdc-003", "hy-002", "jzz-001"]
    first = {i["code"]: i for i in r.json["items"]}["jzz-001"]
    assert first["department"]["name"] == "民政局" and first["name"] == "居住证申领" and first["regions"] == ["440300"]
    assert first["time_limit_days"] == 10 and first["handling"] == "online" and "materials" not in first
    h = resident_headers
    assert _codes(client, h, keyword="居住证") == ["jzz-001"]
    assert _codes(client, h, keyword="住证申") == ["jzz-001"]                  # any part of the name
    assert _codes(client, h, keyword="居申") == []                             # not adjacent: no match
    assert _codes(client, h, keyword="证明") == ["hy-002"]
    assert _codes(client, h, keyword="登记") == ["bdc-003", "hy-002"]
    assert _codes(client, h, keyword="跨省通办") == ["bdc-003"]                # the description too
    assert _codes(client, h, keyword="RESID") == ["jzz-001"]                   # English, any case, a prefix
    assert _codes(client, h, keyword="ｒｅａｌ estate") == ["bdc-003"]         # full-width letters, two words
    assert _codes(client, h, keyword="证") == ["hy-002", "jzz-001"]
    assert _codes(client, h, keyword="登记 婚姻") == ["hy-002"]
    assert _codes(client, h, department=catalogue["housing"]) == ["bdc-003"]
    assert _codes(client, h, department=catalogue["civil"], keyword="登记") == ["hy-002"]
    assert _codes(client, h, category="婚姻") == ["hy-002"]
    assert _codes(client, h, region="440305") == ["bdc-003", "hy-002", "jzz-001"]   # its city, province, 全国
    assert _codes(client, h, region="440100") == ["bdc-003", "hy-002"]               # Guangzhou: not Shenzhen's
    assert _codes(client, h, region="110101") == ["bdc-003"]
    assert _codes(client, h, region="110101", keyword="居住证") == []
    assert _codes(client, h, keyword="无此事项") == []


def test_search_pages(client, resident_headers, catalogue):
    pages = [client.get(CATALOGUE, query_string={"page": n, "page_size": 2}, headers=resident_headers).json
             for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [3, 3, 3]
    assert [[i["code"] for i in p["items"]] for p in pages] == [["bdc-003", "hy-002"], ["jzz-001"], []]
    found = client.get(CATALOGUE, query_string={"keyword": "登记", "page": 2, "page_size": 1},
                       headers=resident_headers).json
    assert found["total"] == 2 and [i["code"] for i in found["items"]] == ["hy-002"]


def test_one_service_with_materials_limits_and_its_form(client, resident_headers, catalogue):
    r = client.get(f"{CATALOGUE}/jzz-001", headers=resident_headers)
    assert r.status_code == 200, r.json
    s = r.json
    assert s["code"] == "jzz-001" and s["version"] == 1 and s["department"]["code"] == "civil"
    assert s["department"]["name"] == "民政局" and s["description"].startswith("来深人员")
    assert s["time_limit_days"] == 10 and s["statutory_limit_days"] == 20 and s["fee_fen"] == 0
    assert [m["name"] for m in s["materials"]] == ["身份证照片", "本人签名", "租赁合同"]
    assert s["materials"][0]["originals_needed"] is True and s["materials"][2]["required"] is False
    assert s["form"] == {"key": "residence", "version": 1,
                         "render": "/api/v1/forms/residence/versions/1/render"}
    render = client.get(s["form"]["render"], headers=resident_headers)
    assert render.status_code == 200   # and each material's field is a component's path there
    paths = {c["path"] for c in render.json["components"]}
    assert {m["field"] for m in s["materials"] if m["field"]} <= paths
    assert client.get(f"{CATALOGUE}/nope-1", headers=resident_headers).status_code == 404
    assert client.get(f"{CATALOGUE}/jzz-001").status_code == 401
    assert client.get(CATALOGUE).status_code == 401


def test_an_archived_service_leaves_the_catalogue(client, app, resident_headers, civil_designer, catalogue):
    r = client.post(f"{BASE}/jzz-001/archive", headers=civil_designer)
    assert r.status_code == 200 and r.json["status"] == "archived"
    assert client.get(f"{CATALOGUE}/jzz-001", headers=resident_headers).status_code == 404
    assert "jzz-001" not in _codes(client, resident_headers)
    assert _codes(client, resident_headers, keyword="居住证") == []
    assert client.get(CATALOGUE, headers=resident_headers).json["total"] == 2
    # no more edits or publishing; the version stays readable for the applications running on it
    etag = client.get(f"{BASE}/jzz-001", headers=civil_designer).headers["ETag"]
    put = client.put(f"{BASE}/jzz-001", json={"fee_fen": 1}, headers={**civil_designer, "If-Match": etag})
    assert put.status_code == 409 and put.json["code"] == "conflict"
    assert publish(client, civil_designer, "jzz-001", expect=409).json["code"] == "conflict"
    assert client.get(f"{BASE}/jzz-001/versions/1", headers=civil_designer).json["current"] is False
    with app.app_context():
        from workflows.cases.catalog import service
        assert service.get_version("jzz-001", 1).body.form_key == "residence"
        assert ServiceVersion.objects(code="jzz-001", current=True).count() == 0
    assert client.post(f"{BASE}/jzz-001/archive", headers=civil_designer).status_code == 200   # idempotent


def test_bad_search_input_is_422_naming_the_parameter(client, resident_headers, catalogue):
    for query, path in (({"region": "4403"}, "/region"), ({"page_size": 1000}, "/page_size"),
                        ({"keyword": "x" * 101}, "/keyword")):
        r = client.get(CATALOGUE, query_string=query, headers=resident_headers)
        assert r.status_code == 422 and [e["path"] for e in r.json["errors"]] == [path], r.json
        assert r.json["errors"][0]["location"] == "query"


def test_search_lookups_use_the_index(app, catalogue):
    """Each look-up the search makes is one equality on (current, search_keys): no collection scan."""
    with app.app_context():
        collection = ServiceVersion._get_collection()
        for query in ({"current": True, "search_keys": "t:居住"},
                      {"current": True, "search_keys": "r:440300"}, {"current": True, "search_keys": "d:x"}):
            plan = collection.find(query, {"_id": 1}).explain()["queryPlanner"]["winningPlan"]
            stages = []
            while plan:
                stages.append((plan.get("stage"), plan.get("indexName")))
                plan = plan.get("inputStage")
            assert ("IXSCAN", "current_1_search_keys_1") in stages and "COLLSCAN" not in [s for s, _ in stages]
