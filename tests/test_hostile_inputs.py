"""Hostile inputs from outside corpora (issue 23, item 9): a PNG whose transparency chunk is longer than its palette
(a photo and a signature: 422 naming the file, not a 500), a timer cycle with a period of zero (refused at upload
naming its event, and when a computed one runs), and task data past the data limit (refused at a completion —
a rejection too — as at a start)."""
from __future__ import annotations

import io
import struct
import zlib

import pytest

from core.errors import Invalid
from storage.images import process_photo
from storage.signatures import process_signature
from workflows.bpmn import instances
from workflows.bpmn.models import Instance
from tests.test_engine import review  # noqa: F401 (fixture)
from tests.test_review_engine import SYSTEM, _publish, _review_with_reminder, engine_only  # noqa: F401


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def palette_png_with_long_trns(entries=2, trns=300, size=64) -> bytes:
    """An 8-bit palette PNG of `entries` colours whose tRNS chunk holds `trns` alpha values."""
    header = struct.pack(">IIBBBBB", size, size, 8, 3, 0, 0, 0)
    palette = bytes([0, 0, 0, 255, 255, 255] * entries)[:3 * entries]
    rows = b"".join(b"\x00" + bytes([(x + y) % entries for x in range(size)]) for y in range(size))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"PLTE", palette)
            + _chunk(b"tRNS", b"\x00" * trns) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("process", [lambda d: process_photo(d, max_pixels=10_000_000), process_signature])
def test_a_transparency_chunk_longer_than_the_palette_is_unreadable(process):
    with pytest.raises(Invalid) as caught:
        process(palette_png_with_long_trns())
    assert caught.value.message_key == "attachment.unreadable"
    assert caught.value.errors[0]["path"] == "/file"


@pytest.mark.parametrize("kind", ["photo", "signature"])
def test_uploading_it_is_422_naming_the_file(client, resident_headers, kind):
    r = client.post("/api/v1/attachments", headers=resident_headers, content_type="multipart/form-data",
                    data={"kind": kind, "file": (io.BytesIO(palette_png_with_long_trns()), "x.png", "image/png")})
    assert r.status_code == 422 and r.json["code"] == "invalid", r.json
    assert r.json["errors"][0]["path"] == "/file" and r.json["errors"][0]["code"] == "unreadable"


@pytest.mark.parametrize("cycle", ['"R/PT0S"', '"R5/PT0S"', '"R3/PT0H0M0S"'])
def test_a_zero_period_timer_cycle_is_refused_at_upload_naming_its_event(engine_only, cycle):
    with pytest.raises(Invalid) as caught:
        _publish("zero_cycle", _review_with_reminder(f"<bpmn:timeCycle>{cycle}</bpmn:timeCycle>"))
    [item] = [e for e in caught.value.errors if e["code"] == "zero_timer_cycle"]
    assert item["element_id"] == "remind" and item["path"] == "remind"


def test_a_computed_zero_period_cycle_stops_at_once_naming_its_event(engine_only):
    version = _publish("computed_cycle", _review_with_reminder('<bpmn:timeCycle>"R/PT" + "0S"</bpmn:timeCycle>'))
    instance = instances.start(SYSTEM, version, {})
    assert instance.status == "incident"
    [incident] = instance.incidents
    assert incident.element_id == "remind" and "period" in incident.message


def _too_much() -> dict:
    return {"note": "a" * 2_100_000}        # past Limits.max_data_bytes (2,000,000)


@pytest.mark.parametrize("reject", [False, True])
def test_task_data_past_the_limit_is_refused_at_complete_as_at_start(review, reject):  # noqa: F811
    with pytest.raises(Invalid) as at_start:
        instances.start(SYSTEM, review, _too_much())
    instance = instances.start(SYSTEM, review, {})
    task_id = instances.view(instance)["ready_tasks"][0]["id"]
    with pytest.raises(Invalid) as at_complete:
        instances.complete_task(SYSTEM, instance, task_id, _too_much(), reject=reject)
    assert at_complete.value.message_key == at_start.value.message_key == "workflow.data_too_large"
    assert at_complete.value.errors[0]["path"] == "/data"
    stored = Instance.objects(id=instance.id).first()
    assert stored.status == "running" and stored.revision == instance.revision     # nothing was written
