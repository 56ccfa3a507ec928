"""A service whose form asks for a material by kind (`x-prefill: material.hukou`), on the two-department case."""
from __future__ import annotations

import copy
import io

import pytest

from tests.applications_fixtures import APPLY_FORM, good_data, publish_form, publish_service
from tests.storage_fixtures import jpeg, marked_image, signature_png

HUKOU_FORM = copy.deepcopy(APPLY_FORM)
HUKOU_FORM["title"] = "落户申请"
HUKOU_FORM["properties"]["hukou"] = {"type": "string", "x-prefill": "material.hukou",
                                     "x-ui": {"widget": "photo", "label": "户口簿"}}
HUKOU_FORM["required"] = HUKOU_FORM["required"] + ["hukou"]


def upload(client, headers, kind="photo", data=None, name="a.jpg"):
    r = client.post("/api/v1/attachments", data={"kind": kind, "file": (io.BytesIO(data or jpeg()), name)},
                    headers=headers, content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.json
    return r.json["id"]


def different_photo(seed: int) -> bytes:
    """A photo whose bytes differ by seed (uploads of the same bytes are one attachment)."""
    img = marked_image()
    img.putpixel((seed % 400, 5), (seed % 256, 10, 10))
    return jpeg(img)


@pytest.fixture
def materials_case(case, client):
    publish_form(client, case.designer, case.civil["id"], "hukou_apply", HUKOU_FORM)
    publish_service(client, case.designer, "hukou", case.civil["id"], "hukou_apply", "residence_permit",
                    name="落户申请")
    case.upload = lambda headers=None, **kw: upload(client, headers or case.resident, **kw)

    def submit_hukou(data, headers=None, expect=201):
        r = client.post("/api/v1/applications", json={"service_code": "hukou", "data": data, "submit": True},
                        headers=headers or case.resident)
        assert r.status_code == expect, r.json
        return r.json
    case.submit_hukou = submit_hukou
    case.good = good_data
    case.signature = lambda headers: upload(client, headers, kind="signature", data=signature_png(), name="s.png")
    return case
