"""The browser apps' URLs: the build when there is one, a how-to-build page when not, never an outside asset."""
from __future__ import annotations

from api import spa


def test_a_missing_build_answers_how_to_build_it(client, tmp_path, monkeypatch):
    web = spa.APPS[0]
    monkeypatch.setattr(spa.WebApp, "dist", property(lambda self: tmp_path / "nothing-here"))
    r = client.get(web.url + "/")
    assert r.status_code == 503 and "make web" in r.get_data(as_text=True)
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]


def test_the_build_is_served_with_client_routes_falling_back_to_index(client, tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>built</title>")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)")
    monkeypatch.setattr(spa.WebApp, "dist", property(lambda self: tmp_path))
    url = spa.APPS[0].url
    index = client.get(url)
    assert index.status_code == 200 and b"built" in index.data and index.headers["Cache-Control"] == "no-cache"
    asset = client.get(f"{url}/assets/app-1234.js")
    assert asset.status_code == 200 and "max-age=31536000" in asset.headers["Cache-Control"]
    assert client.get(f"{url}/forms/some-route").data == index.data
    assert client.get(f"{url}/..%2F..%2F..%2Fsetup.cfg").data == index.data   # never a file outside the build


def test_an_attachment_link_as_json_for_an_img(client, resident_headers):
    import io

    from tests.storage_fixtures import jpeg
    uploaded = client.post("/api/v1/attachments", data={"kind": "photo", "file": (io.BytesIO(jpeg()), "a.jpg")},
                           headers=resident_headers, content_type="multipart/form-data").json
    r = client.get(f"/api/v1/attachments/{uploaded['id']}/link?variant=thumbnail", headers=resident_headers)
    assert r.status_code == 200 and r.json["url"] and 0 < r.json["expires_in"] <= 300
    assert client.get(f"/api/v1/attachments/{uploaded['id']}/link").status_code == 401
