"""What an image may cost before it is decoded (scans, segments, memory, decodes at once), and shapes that once
broke the pipeline: 1×N and N×1 strips. Every hostile file is generated here."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from core.errors import Invalid, TooManyRequests
from storage import decoding
from storage.images import process_photo
from storage.models import Attachment
from storage.signatures import process_signature
from tests import storage_fixtures as f

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

CAP = 40_000_000
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch):
    # A held slot makes the next decode wait this long before it is told to retry (10 s in production).
    monkeypatch.setattr(decoding, "DECODE_WAIT_SECONDS", 0.05)


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def upload(client, headers, data: bytes, kind="photo"):
    return client.post("/api/v1/attachments", headers=headers, content_type="multipart/form-data",
                       data={"kind": kind, "file": (io.BytesIO(data), "IMG_0001.jpg", "image/jpeg")})


def _refused_before_decoding(process, data: bytes, slots: int = 1) -> Invalid:
    """Refused while every decode slot is taken: so the refusal came from the bytes and the header alone
    (had it reached the decoder, the answer would have been 'busy')."""
    with decoding.decode_slot(slots):
        with pytest.raises(Invalid) as caught:
            process(data)
    return caught.value


# ---- scans and segments ----------------------------------------------------------------------------------------

def test_a_scan_bomb_is_refused_from_its_markers_without_decoding():
    # 4000×4000, its smallest scan repeated to 2,000 scans in ~120 kB: libjpeg passes over every block per scan.
    bomb = f.progressive_jpeg(Image.new("RGB", (4000, 4000), (90, 140, 200)), scans=2000)
    assert f.scan_count(bomb) == 2000 and len(bomb) < 200 * 1024
    for process in (lambda d: process_photo(d, max_pixels=CAP, decode_slots=1),
                    lambda d: process_signature(d, decode_slots=1)):
        error = _refused_before_decoding(process, bomb)
        assert error.message_key == "attachment.too_complex"
        assert error.errors == [{"path": "/file", "code": "too_many_scans", "message": "attachment.too_complex",
                                 "limit": decoding.MAX_SCANS}]


def test_stray_bytes_between_segments_do_not_hide_the_scans():
    # Pillow skips junk between header segments to the next 0xFF; the scan count must not stop there.
    bomb = f.progressive_jpeg(Image.new("RGB", (2000, 2000), (90, 140, 200)), scans=500)
    app0_end = 4 + int.from_bytes(bomb[4:6], "big")
    for junk in (b"junk", b"\x00" * 5000):
        hidden = bomb[:app0_end] + junk + bomb[app0_end:]
        error = _refused_before_decoding(lambda d: process_photo(d, max_pixels=CAP, decode_slots=1), hidden)
        assert error.errors[0]["code"] in ("too_many_scans", "too_many_segments")
    full, _ = process_photo(f.progressive_jpeg()[:app0_end] + b"junk" + f.progressive_jpeg()[app0_end:],
                            max_pixels=CAP)
    assert (full.width, full.height) == (800, 600)


def test_progressive_jpegs_up_to_the_scan_limit_are_decoded_faithfully():
    source = f.phone_photo(800, 600)
    plain = f.progressive_jpeg(source)
    assert f.scan_count(plain) == 10                           # what libjpeg (and phones) write
    at_limit = f.progressive_jpeg(source, scans=decoding.MAX_SCANS)
    full, _ = process_photo(at_limit, max_pixels=CAP)
    reference, _ = process_photo(plain, max_pixels=CAP)
    assert (full.width, full.height) == (800, 600)
    assert _open(full.data).getpixel((400, 300)) == pytest.approx(_open(reference.data).getpixel((400, 300)), abs=8)
    with pytest.raises(Invalid) as caught:
        process_photo(f.progressive_jpeg(source, scans=decoding.MAX_SCANS + 1), max_pixels=CAP)
    assert caught.value.errors[0]["code"] == "too_many_scans"


def test_only_real_markers_count_not_marker_bytes_inside_segments_or_restart_intervals():
    # 0xFFDA inside a comment (or an ICC profile, an EXIF thumbnail) is payload, not a scan; restart markers
    # inside the image data are not scans either.
    out = io.BytesIO()
    f.phone_photo(640, 480).save(out, "JPEG", quality=90, comment=b"\xff\xda\x00\x08" * 4000,
                                 restart_marker_blocks=1)
    data = out.getvalue()
    assert data.count(b"\xff\xda") > 4000 and data.count(b"\xff\xd0") > 100
    full, _ = process_photo(data, max_pixels=CAP)
    assert (full.width, full.height) == (640, 480)


def test_thousands_of_segments_between_scans_are_refused():
    data = f.progressive_jpeg()
    second_scan = f._scan_spans(data)[1][0]
    padded = data[:second_scan] + b"\xff\xfe\x00\x02" * 5000 + data[second_scan:]
    error = _refused_before_decoding(lambda d: process_photo(d, max_pixels=CAP, decode_slots=1), padded)
    assert error.message_key == "attachment.too_complex" and error.errors[0]["code"] == "too_many_segments"


def test_a_scan_bomb_over_http_is_a_clear_422(client, resident_headers):
    bomb = f.progressive_jpeg(Image.new("RGB", (4000, 4000), (90, 140, 200)), scans=2000)
    r = upload(client, {**resident_headers, "Accept-Language": "en"}, bomb)
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "too_many_scans"
    assert "too many scans" in r.json["message"] and r.json["errors"][0]["path"] == "/file"
    r = upload(client, resident_headers, bomb)
    assert "扫描段" in r.json["message"]
    assert Attachment.objects.count() == 0


# ---- memory ------------------------------------------------------------------------------------------------

def test_a_small_webp_that_decodes_to_gigabytes_of_work_is_refused_by_its_memory_estimate():
    # 67 kB on the wire; 6000×6000 with alpha took ~700 MB while being decoded and converted.
    bomb = f.webp(Image.new("RGBA", (6000, 6000), (10, 200, 30, 128)), quality=50)
    assert len(bomb) < 100 * 1024
    error = _refused_before_decoding(lambda d: process_photo(d, max_pixels=CAP, decode_slots=1), bomb)
    assert error.message_key == "attachment.too_much_memory"
    item = error.errors[0]
    assert item["code"] == "too_much_memory" and item["limit"] == 256 * MB
    assert item["needed"] == 6000 * 6000 * decoding.PHOTO_BYTES_PER_PIXEL["WEBP+alpha"] + decoding.FIXED_BYTES
    full, _ = process_photo(bomb, max_pixels=CAP, max_decode_bytes=1024 * MB)   # a larger budget takes it
    assert (full.width, full.height) == (2560, 2560)


def test_alpha_and_reduced_jpeg_decoding_enter_the_estimate():
    budget = 100 * MB
    rgb, rgba = (f.png(Image.new(mode, (3000, 3000), (200, 10, 10, 255)[:len(mode)])) for mode in ("RGB", "RGBA"))
    assert process_photo(rgb, max_pixels=CAP, max_decode_bytes=budget)
    with pytest.raises(Invalid, match="too_much_memory"):
        process_photo(rgba, max_pixels=CAP, max_decode_bytes=budget)        # 4 bytes a pixel more, twice over
    # A 24-MP JPEG is decoded at 3000×2000 (DCT scaling), so it needs far less than a 24-MP PNG.
    big_jpeg = f.jpeg(Image.new("RGB", (6000, 4000), (10, 20, 200)), xmp=False, iptc=False)
    big_png = f.png(Image.new("RGB", (6000, 4000), (10, 20, 200)))
    full, _ = process_photo(big_jpeg, max_pixels=CAP, max_decode_bytes=budget)
    assert (full.width, full.height) == (2560, 1707)
    with pytest.raises(Invalid, match="too_much_memory"):
        process_photo(big_png, max_pixels=CAP, max_decode_bytes=budget)


def test_a_progressive_jpeg_counts_its_full_size_coefficient_buffer():
    # libjpeg keeps every coefficient of a multi-scan JPEG at full size (2 bytes each), even when decoding at
    # ½ scale: a 36-MP progressive 4:4:4 file needs ~206 MiB there, its baseline twin none.
    img = Image.new("RGB", (6000, 6000), (10, 20, 200))
    out = io.BytesIO()
    img.save(out, "JPEG", subsampling=0)
    baseline = out.getvalue()
    out = io.BytesIO()
    img.save(out, "JPEG", subsampling=0, progressive=True)
    progressive = out.getvalue()
    full, _ = process_photo(baseline, max_pixels=CAP)
    assert (full.width, full.height) == (2560, 2560)
    error = _refused_before_decoding(lambda d: process_photo(d, max_pixels=CAP, decode_slots=1), progressive)
    assert error.errors[0]["code"] == "too_much_memory"
    assert error.errors[0]["needed"] == 3000 * 3000 * 11 + 3 * 750 * 750 * 128 + decoding.FIXED_BYTES


def test_the_memory_budget_is_a_setting_and_the_refusal_says_why(settings, client, resident_headers):
    from api.app import create_app

    photo = f.png(Image.new("RGB", (2000, 2000), (200, 10, 10)))     # needs ~42 MB by the estimate
    tight = create_app(settings.with_overrides(image_decode_mb=32))
    tight.testing = True
    with tight.app_context():
        r = upload(tight.test_client(), {**resident_headers, "Accept-Language": "zh-CN"}, photo)
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "too_much_memory"
    assert r.json["errors"][0]["limit"] == 32 * MB and "内存" in r.json["message"]
    r = upload(client, resident_headers, photo)                       # the default budget takes it
    assert r.status_code == 201 and (r.json["width"], r.json["height"]) == (2000, 2000)


# ---- decodes at once -----------------------------------------------------------------------------------------

def test_decodes_beyond_the_slots_wait_and_are_then_told_to_retry():
    photo = f.jpeg(xmp=False, iptc=False)
    with decoding.decode_slot(2), decoding.decode_slot(2):
        with pytest.raises(TooManyRequests) as caught:
            process_photo(photo, max_pixels=CAP, decode_slots=2)
        with pytest.raises(TooManyRequests):
            process_signature(f.signature_png(), decode_slots=2)
        assert process_photo(photo, max_pixels=CAP, decode_slots=3)     # another slot count, another gate
    assert caught.value.status == 429 and caught.value.retry_after == decoding.RETRY_AFTER_SECONDS
    assert process_photo(photo, max_pixels=CAP, decode_slots=2)         # slots free again


def test_parallel_uploads_wait_their_turn_and_never_decode_more_than_the_slots_at_once(monkeypatch):
    import threading
    import time

    from storage import images

    monkeypatch.setattr(decoding, "DECODE_WAIT_SECONDS", 60)
    active, most, lock = [0], [0], threading.Lock()
    real_upright = images.upright

    def counting_upright(img, orientation):   # runs inside the slot, after the decode
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.05)                    # a wide window: without the gate all six would overlap here
            return real_upright(img, orientation)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(images, "upright", counting_upright)
    photo = f.jpeg(f.phone_photo(1600, 1200), xmp=False, iptc=False)
    results = []
    threads = [threading.Thread(target=lambda: results.append(process_photo(photo, max_pixels=CAP,
                                                                              decode_slots=2)))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 6 and all(full.width == 1600 for full, _ in results)
    assert 1 <= most[0] <= 2


def test_a_busy_worker_answers_429_with_retry_after_and_stores_nothing(client, resident_headers):
    photo = f.jpeg(xmp=False, iptc=False)
    with decoding.decode_slot(2), decoding.decode_slot(2):              # the default ZHANGBAN_IMAGE_DECODES
        r = upload(client, {**resident_headers, "Accept-Language": "en"}, photo)
    assert r.status_code == 429 and r.json["code"] == "too_many_requests"
    assert r.headers["Retry-After"] == str(decoding.RETRY_AFTER_SECONDS)
    assert r.json["errors"][0]["code"] == "busy" and "try again" in r.json["message"]
    assert Attachment.objects.count() == 0
    assert upload(client, resident_headers, photo).status_code == 201


# ---- extreme shapes --------------------------------------------------------------------------------------------

SHAPES = [(20000, 2), (2, 20000), (65500, 1), (1, 65500), (16383, 1), (1, 16383)]


def _strip(fmt: str, size) -> bytes:
    img = Image.new("RGB", size, (30, 30, 160))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("size", SHAPES, ids=[f"{w}x{h}" for w, h in SHAPES])
def test_strips_one_or_two_pixels_wide_are_stored_with_every_edge_at_least_one_pixel(fmt, size):
    if fmt == "WEBP" and max(size) > 16383:
        pytest.skip("WebP images are at most 16383 px a side")
    data = _strip(fmt, size)
    for renditions, full_edge in ((process_photo(data, max_pixels=CAP), 2560), (process_signature(data), 1200)):
        full, thumb = renditions
        long_edge = min(max(size), full_edge)
        for rendition, edge in ((full, long_edge), (thumb, min(long_edge, 320))):
            img = _open(rendition.data)
            assert img.size == (rendition.width, rendition.height)
            assert max(img.size) == edge and min(img.size) >= 1
            assert (img.width >= img.height) == (size[0] >= size[1])   # the strip keeps its direction


def test_a_20000_by_2_jpeg_photo_is_stored_over_http(client, resident_headers):
    # It used to be 422 "damaged file" while the server had divided by zero asking the decoder for 0 px rows.
    r = upload(client, resident_headers, _strip("JPEG", (20000, 2)))
    assert r.status_code == 201, r.json
    assert (r.json["width"], r.json["height"]) == (2560, 1)
    link = client.get(f"/api/v1/attachments/{r.json['id']}/content?variant=thumbnail", headers=resident_headers)
    assert _open(client.get(link.headers["Location"]).data).size == (320, 1)


def test_an_internal_failure_is_a_500_not_the_residents_damaged_file(client, resident_headers, monkeypatch):
    from storage import images

    def broken_fit(size, edge):
        return size[0] // 0, size[1]

    monkeypatch.setattr(images, "fit", broken_fit)
    r = upload(client, resident_headers, f.jpeg(f.phone_photo(3000, 2000), xmp=False, iptc=False))
    assert r.status_code == 500 and r.json["code"] == "internal_error"
    assert r.json["errors"] == [] and Attachment.objects.count() == 0
    # a file that really cannot be decoded is still the resident's 422
    truncated = f.jpeg(f.phone_photo(800, 600))[:5000]
    r = upload(client, resident_headers, truncated)
    assert r.status_code == 422 and r.json["errors"][0]["code"] == "unreadable"


# ---- signatures on paper -----------------------------------------------------------------------------------------

def _signed_paper(orientation: int) -> bytes:
    """A phone photo of a signature on paper, stored sideways with an EXIF orientation (as phones do)."""
    paper = Image.new("RGB", (900, 400), (235, 232, 225))
    draw = ImageDraw.Draw(paper)
    draw.line([(150, 200), (400, 150), (600, 240), (750, 190)], fill=(15, 15, 40), width=8)
    draw.line([(300, 120), (340, 280)], fill=(15, 15, 40), width=6)
    raw = paper.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else paper   # the sensor's view
    return f.jpeg(raw, orientation=orientation, xmp=False, iptc=False, comment=None)


def test_a_photographed_signature_is_turned_upright_by_its_exif_orientation(client, resident_headers):
    upright, _ = process_signature(_signed_paper(1))
    turned, _ = process_signature(_signed_paper(6))
    assert upright.width > 2 * upright.height
    assert (turned.width, turned.height) == pytest.approx((upright.width, upright.height), abs=4)
    r = upload(client, resident_headers, _signed_paper(6), kind="signature")
    assert r.status_code == 201 and r.json["width"] > 2 * r.json["height"]
