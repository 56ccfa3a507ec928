"""E-signatures drawn on a phone canvas: trimmed, normalised to dark ink on transparent, blank ones refused.

The canvas may be transparent or white, and the ink any colour: we flatten onto white, take darkness
(255 − luminance) as ink, crop to the ink with a small margin, and store a PNG whose colour is one dark ink
and whose alpha is that darkness (anti-aliasing kept). Nothing else from the source file survives.
"""
from __future__ import annotations

import io

from PIL import Image, ImageChops, ImageOps

from core.errors import Invalid, PayloadTooLarge
from storage import decoding
from storage import sniff as sniffing
from storage.images import (DEFAULT_DECODE_BYTES, DEFAULT_DECODE_SLOTS, Rendition, decode, fit, open_image,
                            upright)

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 8_000_000       # a 3× canvas on the largest phone is about 3.5 MP
MAX_EDGE = 1200              # stored long edge
THUMB_EDGE = 320
MARGIN = 8                   # px of air kept around the trimmed ink
INK = (20, 20, 30)           # the one dark ink colour stored
INK_THRESHOLD = 64           # darkness above this counts as a drawn pixel
MIN_INK_PIXELS = 150         # fewer drawn pixels than this (or than MIN_INK_SHARE) is a blank signature
MIN_INK_SHARE = 0.001
MIN_BOX = (32, 12)           # a drawn area smaller than this (w, h) is a dot or a tap, not a signature


def process_signature(data: bytes, *, max_decode_bytes: int = DEFAULT_DECODE_BYTES,
                      decode_slots: int = DEFAULT_DECODE_SLOTS) -> list[Rendition]:
    """full (≤ 1200 px) and thumbnail (≤ 320 px) PNGs. A photo of a signed paper is turned upright by its EXIF
    orientation first, as photos are (canvas exports carry none)."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge("attachment.too_large", errors=[
            {"path": "/file", "code": "too_large", "message": "attachment.too_large", "limit": MAX_BYTES}])
    img, scans = open_image(data, accept=(sniffing.PNG, sniffing.WEBP, sniffing.JPEG), max_pixels=MAX_PIXELS)
    decoding.check_memory(decoding.signature_peak_bytes(img, decoding.jpeg_coefficient_bytes(img, scans)),
                          max_decode_bytes)
    with decoding.decode_slot(decode_slots):
        orientation, _ = decode(img)
        return _signature(upright(img, orientation))


def _signature(img: Image.Image) -> list[Rendition]:
    darkness = _darkness(img)
    drawn = darkness.point(lambda v: 255 if v > INK_THRESHOLD else 0)
    box = drawn.getbbox()
    ink_pixels = drawn.histogram()[255]
    area = img.width * img.height
    if (box is None or ink_pixels < max(MIN_INK_PIXELS, MIN_INK_SHARE * area)
            or (box[2] - box[0] < MIN_BOX[0] and box[3] - box[1] < MIN_BOX[1])):
        raise Invalid("attachment.signature_blank", errors=[
            {"path": "/file", "code": "signature_blank", "message": "attachment.signature_blank"}])

    left, top, right, bottom = box
    box = (max(0, left - MARGIN), max(0, top - MARGIN), min(img.width, right + MARGIN),
           min(img.height, bottom + MARGIN))
    alpha = ImageOps.autocontrast(darkness.crop(box), cutoff=(0, 1))   # the strongest strokes become opaque
    alpha = alpha.point(lambda v: 0 if v < 16 else v)                   # faint paper noise becomes clear
    signature = Image.new("RGBA", alpha.size, INK + (0,))
    signature.putalpha(alpha)
    if max(signature.size) > MAX_EDGE:
        signature = signature.resize(fit(signature.size, MAX_EDGE), Image.Resampling.LANCZOS)
    thumb = signature.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS)
    return [Rendition("full", _png(signature), sniffing.PNG, "png", *signature.size),
            Rendition("thumbnail", _png(thumb), sniffing.PNG, "png", *thumb.size)]


def _darkness(img: Image.Image) -> Image.Image:
    """255 − luminance of the drawing flattened onto white (transparent canvas = white paper)."""
    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, rgba).convert("L")
    return ImageChops.invert(flat)


def _png(img: Image.Image) -> bytes:
    img.info = {}
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()
