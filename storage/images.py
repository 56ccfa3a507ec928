"""The photo pipeline (Pillow): content-sniffed, size- and pixel-capped, upright, metadata-free, sRGB JPEG.

Speed and memory come from not decoding what we will throw away: the declared size is checked before any
pixel is decoded (bombs stop there), and JPEGs are decoded with DCT scaling (`draft`) straight to the smallest
power-of-two scale whose long edge is still at least MIN_EDGE. A 4000×3000 phone photo is therefore decoded
at 2000×1500 (a quarter of the pixels) and stored at that size; only sources whose scaled long edge lands above
FULL_EDGE are resampled. The numbers are in docs/storage.md and tests/perf/test_images_bench.py.
"""
from __future__ import annotations

import hashlib
import io
import logging
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image, ImageCms

from core.errors import Invalid, UnsupportedMediaType
from storage import decoding
from storage import sniff as sniffing

log = logging.getLogger(__name__)
# We enforce our own, lower pixel cap right after reading the header; Pillow's warning adds only noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

FULL_EDGE = 2560        # the stored photo's long edge is at most this
MIN_EDGE = 1920         # … and, when the source was larger, at least this (JPEG DCT scaling picks 1, ½, ¼, ⅛)
THUMB_EDGE = 320
QUALITY = 85
THUMB_QUALITY = 80
ORIENTATION = 0x0112
DEFAULT_DECODE_BYTES = 256 * 1024 * 1024   # the defaults of ZHANGBAN_IMAGE_DECODE_MB and ZHANGBAN_IMAGE_DECODES
DEFAULT_DECODE_SLOTS = 2

_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


@dataclass(frozen=True)
class Rendition:
    """One stored form of an attachment: `full`, `thumbnail` or `original`."""
    name: str
    data: bytes
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def open_image(data: bytes, *, accept: tuple[str, ...], max_pixels: int) -> tuple[Image.Image, int]:
    """Open (headers only) an image whose sniffed type is in `accept`; refuse bombs before decoding.
    Returns the image and its number of JPEG scans (0 for other types)."""
    media_type = sniffing.sniff(data)
    if media_type not in accept or media_type not in sniffing.PILLOW_FORMATS:
        raise UnsupportedMediaType("attachment.unsupported_type", errors=[
            {**_item("unsupported_type", "attachment.unsupported_type"), "accepted": list(accept)}])
    scans = decoding.check_structure(data, media_type)
    try:
        img = Image.open(io.BytesIO(data), formats=[sniffing.PILLOW_FORMATS[media_type]])
    except Image.DecompressionBombError:
        raise too_many_pixels(max_pixels) from None
    except Exception:   # hostile or broken headers surface as many exception types: all are bad input
        raise unreadable() from None
    width, height = img.size
    if width * height > max_pixels:
        raise too_many_pixels(max_pixels)
    if width < 1 or height < 1:
        raise unreadable()
    if _transparency_past_palette(img):
        raise unreadable()
    return img, scans


def _transparency_past_palette(img: Image.Image) -> bool:
    """A palette PNG whose tRNS chunk holds more entries than its palette (PNG 11.3.2.1 forbids it): Pillow reads
    it, then fails converting the pixels (ValueError) — refused here, before decoding, as the file's fault."""
    transparency = img.info.get("transparency")
    if img.mode != "P" or not isinstance(transparency, bytes):
        return False
    palette = img.palette.palette if img.palette is not None else b""
    return len(transparency) > max(1, len(palette) // 3)


def process_photo(data: bytes, *, max_pixels: int, max_decode_bytes: int = DEFAULT_DECODE_BYTES,
                  decode_slots: int = DEFAULT_DECODE_SLOTS, keep_original: bool = False) -> list[Rendition]:
    """full (≤ 2560 px, progressive JPEG q85) and thumbnail (≤ 320 px); `original` too when asked.

    What the file says is judged before decoding (type, structure, pixels, memory); a decode that then fails is
    the file's fault (422 unreadable). Anything failing after the pixels are in is our own bug: it is left to
    surface as an internal error, never reported as the resident's damaged file."""
    img, scans = open_image(data, accept=(sniffing.JPEG, sniffing.PNG, sniffing.WEBP), max_pixels=max_pixels)
    coefficients = decoding.jpeg_coefficient_bytes(img, scans)
    if img.format == "JPEG":
        scale = dct_scale(max(img.size))
        # (Staying in YCbCr was measured too: decoding saved little and encoding got slower.)
        if scale > 1:   # never ask for less than one pixel: a 20000×2 strip stays 2 px high
            img.draft("RGB", (max(1, img.width // scale), max(1, img.height // scale)))
    decoding.check_memory(decoding.photo_peak_bytes(img, coefficients), max_decode_bytes)
    with decoding.decode_slot(decode_slots):
        orientation, icc = decode(img)
        img = upright(_srgb(img, icc), orientation)
        if max(img.size) > FULL_EDGE:
            img = img.resize(fit(img.size, FULL_EDGE), Image.Resampling.LANCZOS, reducing_gap=3.0)
        full = _jpeg(img, QUALITY)
        thumb = img.resize(fit(img.size, THUMB_EDGE), Image.Resampling.BICUBIC, reducing_gap=2.0) \
            if max(img.size) > THUMB_EDGE else img
        renditions = [Rendition("full", full, sniffing.JPEG, "jpg", *img.size),
                      Rendition("thumbnail", _jpeg(thumb, THUMB_QUALITY), sniffing.JPEG, "jpg", *thumb.size)]
    if keep_original:
        renditions.append(Rendition("original", data, sniffing.sniff(data), img_extension(data)))
    return renditions


def decode(img: Image.Image) -> tuple[int, bytes | None]:
    """Decode the pixels; returns (EXIF orientation, ICC profile). Failing here is the file's fault."""
    try:
        orientation = _orientation(img)
        icc = img.info.get("icc_profile")
        img.load()
    except MemoryError:
        raise
    except Exception as exc:   # truncated or corrupt data surfaces as many exception types: all are bad input
        log.info("image refused while decoding: %s: %s", type(exc).__name__, exc)
        raise unreadable() from None
    return orientation, icc


def upright(img: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation (2–8) with one transpose."""
    return img.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else img


def dct_scale(long_edge: int) -> int:
    """The largest JPEG DCT scale (1, 2, 4 or 8) that keeps the long edge at least MIN_EDGE."""
    for scale in (8, 4, 2):
        if long_edge // scale >= MIN_EDGE:
            return scale
    return 1


def fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    width, height = size
    ratio = edge / max(width, height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def img_extension(data: bytes) -> str:
    return {sniffing.JPEG: "jpg", sniffing.PNG: "png", sniffing.WEBP: "webp"}.get(sniffing.sniff(data), "bin")


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(ORIENTATION, 1))
    except Exception:   # a broken EXIF block only loses the rotation, not the photo
        return 1


def _srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB in sRGB: embedded profiles converted (then dropped), transparency flattened onto white."""
    if img.mode.startswith("I"):   # 16-bit greyscale PNG: scale to 8 bits (a plain convert would clip)
        img = img.convert("I").point(lambda v: v / 257).convert("L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    if icc:
        transform = _transform(icc, img.mode)
        if transform is not None:
            try:
                return ImageCms.applyTransform(img, transform)
            except ImageCms.PyCMSError:   # a profile LittleCMS accepted but cannot apply: treat as sRGB
                pass
    return img if img.mode == "RGB" else img.convert("RGB")


_transforms: OrderedDict = OrderedDict()   # (profile digest, mode) → transform or None; the newest 32
_transforms_lock = threading.Lock()


def _transform(icc: bytes, mode: str):
    """A cached LittleCMS transform from the embedded profile to sRGB; None when it is sRGB already. Keyed by
    the profile's digest: keyed by the profile itself, each distinct (up to 16 MB) profile stayed for good."""
    key = (hashlib.sha256(icc).digest(), mode)
    with _transforms_lock:
        if key in _transforms:
            _transforms.move_to_end(key)
            return _transforms[key]
    transform = _build_transform(icc, mode)
    with _transforms_lock:
        _transforms[key] = transform
        while len(_transforms) > 32:
            _transforms.popitem(last=False)
    return transform


def _build_transform(icc: bytes, mode: str):
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return None
        if mode not in ("RGB", "CMYK", "L"):
            return None
        return ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), mode, "RGB",
                                       renderingIntent=ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None   # an unusable profile: treat the pixels as sRGB, as browsers do


def _jpeg(img: Image.Image, quality: int) -> bytes:
    img.info = {}   # nothing rides along: no EXIF, XMP, IPTC, ICC or comment from the source
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, progressive=True, optimize=True)
    return out.getvalue()


def _item(code: str, message: str) -> dict:
    return {"path": "/file", "code": code, "message": message}


def too_many_pixels(max_pixels: int) -> Invalid:
    return Invalid("attachment.too_many_pixels",
                   errors=[{**_item("too_many_pixels", "attachment.too_many_pixels"), "limit": max_pixels}])


def unreadable() -> Invalid:
    return Invalid("attachment.unreadable", errors=[_item("unreadable", "attachment.unreadable")])
