"""What decoding an image may cost, judged before a pixel is decoded; and how many decodes run at once.

Three costs are bounded here, each from the bytes or the header alone:
- structure: the JPEG segments before the image data and PNG chunks (Pillow walks those in Python), and the
  JPEG scans and markers after it (libjpeg passes over every block of the image once per scan: a progressive
  file with one tiny scan repeated thousands of times held a worker for seconds);
- memory: the decoded size × the peak bytes per pixel the pipeline was measured to need for that format and
  mode (alpha included), plus libjpeg's full-size coefficient buffer for multi-scan JPEGs, against a
  per-decode budget;
- concurrency: a per-process gate, so a handful of parallel uploads to one threaded worker cannot each take the
  budget at once. A request that waits too long for its turn is told to retry (429 with Retry-After).
"""
from __future__ import annotations

import math
import re
import threading
from contextlib import contextmanager

from PIL import Image

from core.errors import Invalid, TooManyRequests
from storage import sniff as sniffing

MAX_SEGMENTS = 1000       # JPEG segments before the first scan (phones write ~20; a 16 MB ICC profile 255)
MAX_CHUNKS = 20000        # PNG chunks in all (a 15 MB PNG in 4 KB IDAT chunks has under 4,000)
MAX_SCANS = 64            # JPEG scans (SOS): baseline 1–3, progressive from phones and libjpeg ≤ ~12
MAX_MARKERS_AFTER_SCAN = 1000   # markers between and after the scans (tables, restarts are not counted)
DECODE_WAIT_SECONDS = 10  # how long an upload waits for a free decode slot before it is told to retry
RETRY_AFTER_SECONDS = 2

# Peak memory of the whole pipeline (decode, colour conversion, resize, encode) per decoded pixel, measured on
# 25–36 MP images (tests/perf/test_images_bench.py reports the peaks) and rounded up. Pillow keeps RGB in 4
# bytes a pixel; the WebP decoder holds its own RGBA canvas and a bytes copy beside the image.
PHOTO_BYTES_PER_PIXEL = {"JPEG": 11, "WEBP": 17, "WEBP+alpha": 20, "PNG": 9, "PNG+alpha": 14, "PNG+16bit": 11}
SIGNATURE_BYTES_PER_PIXEL = {"WEBP": 28, "other": 20}   # RGBA copy, white canvas, composite, darkness, crop
FIXED_BYTES = 8 * 1024 * 1024      # encoder buffers and the thumbnail, whatever the size

# A marker after entropy-coded data: 0xFF not followed by 0x00 (stuffing), a restart marker or a fill byte.
# (Written with no repetition, so the search runs at memchr speed: `\xff+…` was 40× slower on a 7 MB file.)
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE = {0x01, 0xD8} | set(range(0xD0, 0xD8))


# ---- structure ----------------------------------------------------------------------------------------------

def check_structure(data: bytes, media_type: str) -> int:
    """Refuse files built to make the decoder loop: too many segments, chunks, scans or markers. Returns the
    number of JPEG scans (0 for other types, or when no scan was found: the decoder then says what is wrong)."""
    scans = 0
    if media_type == sniffing.JPEG:
        first_scan, segments = _jpeg_header_segments(data)
        if segments > MAX_SEGMENTS:
            raise too_complex("too_many_segments", MAX_SEGMENTS)
        if first_scan is not None:
            scans, markers = jpeg_scans(data, first_scan)
            if scans > MAX_SCANS:
                raise too_complex("too_many_scans", MAX_SCANS)
            if markers > MAX_MARKERS_AFTER_SCAN:
                raise too_complex("too_many_segments", MAX_MARKERS_AFTER_SCAN)
    elif media_type == sniffing.PNG:
        pos, count, end = 8, 0, len(data)
        while pos + 8 <= end:
            count += 1
            if count > MAX_CHUNKS:
                raise too_complex("too_many_segments", MAX_CHUNKS)
            pos += 12 + int.from_bytes(data[pos:pos + 4], "big")
    return scans


def _jpeg_header_segments(data: bytes) -> tuple[int | None, int]:
    """(offset of the first SOS marker or None, segments before it), walking at most MAX_SEGMENTS + 1."""
    pos, count, end = 2, 0, len(data)
    while pos + 4 <= end and count <= MAX_SEGMENTS:
        if data[pos] != 0xFF:
            # Junk between segments: Pillow skips to the next 0xFF, and so do we (stopping here would let a
            # scan bomb with one stray byte up front pass uncounted).
            pos = data.find(b"\xff", pos)
            count += 1
            if pos == -1:
                return None, count
            continue
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1             # a fill byte (counted too: a million of them are as slow)
        elif marker == 0xDA:
            return pos, count
        elif marker in _STANDALONE:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        count += 1
    return None, count


def jpeg_scans(data: bytes, first_scan: int) -> tuple[int, int]:
    """(scans, other markers) from the first SOS up to EOI. The entropy-coded data is skipped with a regular
    expression (in C): inside it, 0xFF is always followed by 0x00 (stuffing) or a restart marker."""
    scans = markers = 0
    pos, end = first_scan, len(data)
    while pos + 4 <= end:
        marker = data[pos + 1]
        if marker == 0xD9:
            break                # EOI: Pillow decodes nothing after it (MPO frames, trailers)
        after = pos + 2 if marker in _STANDALONE else pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:
            scans += 1
            if scans > MAX_SCANS:
                break
        else:
            markers += 1
            if markers > MAX_MARKERS_AFTER_SCAN:
                break
        found = _MARKER.search(data, after) if marker == 0xDA else _MARKER.match(data, after)
        if found is None:
            found = _MARKER.search(data, after)
            if found is None:
                break            # a file cut off inside a scan: the decoder reports that
        pos = found.start()
    return scans, markers


# ---- memory -------------------------------------------------------------------------------------------------

def has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info


def jpeg_coefficient_bytes(img: Image.Image, scans: int) -> int:
    """The memory libjpeg needs for a JPEG of more than one scan (progressive, or non-interleaved): it keeps
    every DCT coefficient of the full-size image, 2 bytes each, whatever scale it is asked to decode at — a
    40-MP progressive 4:4:4 file holds 229 MiB there while its ½-scale pixels take 38 MiB. Call before `draft`."""
    if img.format != "JPEG" or scans <= 1:
        return 0
    layers = getattr(img, "layer", None) or [("", 1, 1, 0)] * len(img.getbands())
    h_max, v_max = max(layer[1] for layer in layers), max(layer[2] for layer in layers)
    width, height = img.size
    blocks = lambda size, factor, most: math.ceil(math.ceil(size * factor / most) / 8)   # noqa: E731
    return sum(blocks(width, h, h_max) * blocks(height, v, v_max) * 64 * 2 for _, h, v, _ in layers)


def photo_peak_bytes(img: Image.Image, coefficients: int = 0) -> int:
    """The photo pipeline's peak memory for this opened image at its (already drafted) decode size, plus the
    JPEG coefficient buffer measured before drafting."""
    if img.format == "JPEG":
        key = "JPEG"
    elif img.format == "WEBP":
        key = "WEBP+alpha" if has_alpha(img) else "WEBP"
    else:
        key = "PNG+alpha" if has_alpha(img) else "PNG+16bit" if img.mode.startswith(("I", "F")) else "PNG"
    return img.width * img.height * PHOTO_BYTES_PER_PIXEL[key] + coefficients + FIXED_BYTES


def signature_peak_bytes(img: Image.Image, coefficients: int = 0) -> int:
    per_pixel = SIGNATURE_BYTES_PER_PIXEL["WEBP" if img.format == "WEBP" else "other"]
    return img.width * img.height * per_pixel + coefficients + FIXED_BYTES


def check_memory(needed: int, budget: int) -> None:
    if needed > budget:
        raise Invalid("attachment.too_much_memory", errors=[{"path": "/file", "code": "too_much_memory", "message": "attachment.too_much_memory",
                               "needed": needed, "limit": budget}])


# ---- concurrency --------------------------------------------------------------------------------------------

_gates: dict[int, threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


@contextmanager
def decode_slot(slots: int):
    """Hold one of this process's `slots` decode slots; 429 (retry) when none frees up within
    DECODE_WAIT_SECONDS. A gunicorn sync worker runs one request at a time; threaded workers and the
    development server run several, and this keeps their decodes (and their memory) to `slots` at once."""
    with _gates_lock:
        gate = _gates.setdefault(slots, threading.BoundedSemaphore(slots))
    if not gate.acquire(timeout=DECODE_WAIT_SECONDS):
        raise TooManyRequests("attachment.busy", retry_after=RETRY_AFTER_SECONDS, errors=[
            {"path": "/file", "code": "busy", "message": "attachment.busy"}])
    try:
        yield
    finally:
        gate.release()


def too_complex(code: str, limit: int) -> Invalid:
    return Invalid("attachment.too_complex", errors=[
        {"path": "/file", "code": code, "message": "attachment.too_complex", "limit": limit}])
