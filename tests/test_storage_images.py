"""The photo and signature pipelines on their own: what a resident's file becomes before it is stored."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from core.errors import Invalid
from core.errors import PayloadTooLarge, UnsupportedMediaType
from storage import decoding
from storage.images import process_photo
from storage.signatures import process_signature
from tests import storage_fixtures as f

# The pipeline refuses bombs itself, below Pillow's limit; Pillow's own warning is noise here.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


CAP = 40_000_000


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_orientation_is_applied_and_every_piece_of_metadata_is_gone():
    photo = f.jpeg(f.marked_image((400, 200)), orientation=6, icc=None)
    assert {m for m, _ in f.jpeg_segments(photo)} >= {0xE1, 0xED, 0xFE}   # the input really carries them
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)      # … including GPS

    full, thumb = process_photo(photo, max_pixels=CAP)
    for rendition in (full, thumb):
        f.assert_clean_jpeg(rendition.data)
        assert not _open(rendition.data).getexif()
    img = _open(full.data)
    assert img.size == (200, 400) == (full.width, full.height)        # turned upright: portrait
    r, g, b = img.getpixel((img.width - 10, 10))                       # the red corner went top-right
    assert r > 180 and g < 60 and b < 60
    assert img.getpixel((10, 10))[0] < 160


def test_icc_profiles_are_converted_to_srgb_not_just_dropped():
    # In this profile, (220, 0, 0) means blue.
    photo = f.jpeg(f.marked_image(), icc=f.swapped_rgb_profile())
    full, _ = process_photo(photo, max_pixels=CAP)
    f.assert_clean_jpeg(full.data)
    r, g, b = _open(full.data).getpixel((10, 10))
    assert b > 150 and r < 60, (r, g, b)


def test_a_12_mp_photo_becomes_a_2000_px_full_image_and_a_320_px_thumbnail():
    photo = f.jpeg(f.phone_photo(4000, 3000), orientation=6, quality=88)
    full, thumb = process_photo(photo, max_pixels=CAP)
    assert (full.width, full.height) == (1500, 2000)    # DCT-scaled by ½, then turned upright
    assert _open(full.data).size == (1500, 2000)
    assert (thumb.width, thumb.height) == (240, 320) == _open(thumb.data).size
    assert len(full.data) < len(photo) / 3


@pytest.mark.parametrize("size, expected", [((6400, 4800), (2560, 1920)), ((3000, 2000), (2560, 1707)),
                                            ((1200, 900), (1200, 900))])
def test_the_long_edge_is_capped_at_2560(size, expected):
    photo = f.jpeg(Image.new("RGB", size, (90, 140, 200)), xmp=False, iptc=False)
    full, thumb = process_photo(photo, max_pixels=CAP)
    assert (full.width, full.height) == expected
    assert max(thumb.width, thumb.height) == 320


def test_png_and_webp_photos_are_accepted_and_transparency_becomes_white():
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    img.paste((0, 0, 255, 255), (100, 50, 200, 150))
    full, _ = process_photo(f.png(img), max_pixels=CAP)
    out = _open(full.data)
    assert out.mode == "RGB" and out.getpixel((5, 5)) >= (245, 245, 245) and out.getpixel((150, 100))[2] > 200
    webp = io.BytesIO()
    f.marked_image().save(webp, "WEBP", exif=f.exif(gps=True))
    full, _ = process_photo(webp.getvalue(), max_pixels=CAP)
    f.assert_clean_jpeg(full.data)


@pytest.mark.parametrize("data", [b"GIF89a" + b"\0" * 100, b"BM" + b"\0" * 100, b"hello, world", f.pdf(),
                                  b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
                         ids=["gif", "bmp", "text", "pdf", "svg"])
def test_types_are_judged_by_content_and_others_are_415(data):
    with pytest.raises(UnsupportedMediaType) as caught:
        process_photo(data, max_pixels=CAP)
    assert caught.value.status == 415 and caught.value.errors[0]["path"] == "/file"


def test_a_real_gif_with_a_jpeg_name_is_still_refused():
    gif = io.BytesIO()
    f.marked_image().save(gif, "GIF")
    with pytest.raises(UnsupportedMediaType):
        process_photo(gif.getvalue(), max_pixels=CAP)


@pytest.mark.parametrize("bomb", [f.png_bomb, lambda: f.jpeg_with_declared_size(10_000, 10_000)],
                         ids=["png-100mp", "jpeg-header-100mp"])
def test_decompression_bombs_are_refused_without_decoding(bomb):
    data = bomb()
    assert len(data) < 64 * 1024
    # Refused while the only decode slot is taken: from the header alone (a decode would have been 'busy').
    # How fast is measured in tests/perf/test_images_bench.py.
    with decoding.decode_slot(1), pytest.raises(Invalid) as caught:
        process_photo(data, max_pixels=CAP, decode_slots=1)
    assert caught.value.message_key == "attachment.too_many_pixels" and caught.value.errors[0]["limit"] == CAP


def _junk_segments(data: bytes, media_type: str, count: int) -> bytes:
    """The file with `count` empty segments (JPEG COM) or private chunks (PNG) before its image data."""
    import struct
    import zlib
    if media_type == "jpeg":
        return data[:2] + b"\xff\xfe\x00\x02" * count + data[2:]
    if media_type == "jpeg-fill":
        return data[:2] + b"\xff" * count + data[2:]
    chunk = struct.pack(">I", 0) + b"zzZz" + struct.pack(">I", zlib.crc32(b"zzZz"))
    return data[:33] + chunk * count + data[33:]


@pytest.mark.parametrize("media_type", ["jpeg", "jpeg-fill", "png"])
def test_a_small_image_with_a_million_empty_segments_is_refused_without_parsing_them(media_type, monkeypatch):
    # Pillow walks the segments before the image data one by one in Python: 12 MB of them took 3–5 s of CPU.
    # They are counted (and the file refused) before Pillow sees it: the times are in tests/perf.
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(out, media_type.split("-")[0].upper())
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    for process, count in ((lambda d: process_photo(d, max_pixels=CAP), 1_000_000), (process_signature, 150_000)):
        data = _junk_segments(out.getvalue(), media_type, count)
        with pytest.raises(Invalid) as caught:
            process(data)
        assert caught.value.message_key == "attachment.too_complex"    # built to be slow, not damaged
        assert caught.value.errors[0]["code"] == "too_many_segments"
    assert opened == []         # refused by counting segments before Pillow walks them (timings: tests/perf)
    monkeypatch.setattr(Image, "open", real_open)
    # an ordinary number of extra segments is fine
    full, _ = process_photo(_junk_segments(out.getvalue(), media_type, 200), max_pixels=CAP)
    assert (full.width, full.height) == (32, 32)


def test_the_pixel_cap_is_a_setting():
    photo = f.jpeg(Image.new("RGB", (1000, 1000)), xmp=False, iptc=False)
    process_photo(photo, max_pixels=1_000_000)
    with pytest.raises(Invalid):
        process_photo(photo, max_pixels=999_999)


def test_truncated_and_corrupt_images_are_422_not_500():
    photo = f.jpeg(f.phone_photo(800, 600))
    for broken in (photo[: len(photo) // 2], photo[:200], b"\x89PNG\r\n\x1a\n" + b"\0" * 50):
        with pytest.raises(Invalid) as caught:
            process_photo(broken, max_pixels=CAP)
        assert caught.value.message_key == "attachment.unreadable"


def test_originals_are_kept_only_when_configured():
    photo = f.jpeg()
    assert [r.name for r in process_photo(photo, max_pixels=CAP)] == ["full", "thumbnail"]
    kept = process_photo(photo, max_pixels=CAP, keep_original=True)
    assert kept[-1].name == "original" and kept[-1].data == photo


# ---- signatures ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("background", [(0, 0, 0, 0), (255, 255, 255, 255)], ids=["transparent", "white"])
def test_a_signature_is_trimmed_and_becomes_dark_ink_on_transparent(background):
    full, thumb = process_signature(f.signature_png(background=background, ink=(20, 60, 200, 255)))
    img = _open(full.data)
    assert img.mode == "RGBA" and img.format == "PNG"
    assert img.width < 900 * 0.75 and img.height < 300 * 0.6         # margins trimmed
    assert img.getpixel((0, 0))[3] == 0                               # paper is transparent
    alpha = img.getchannel("A")
    assert alpha.getextrema()[1] >= 250                                # strokes are opaque …
    opaque = [img.getpixel((x, y)) for x in range(img.width) for y in range(img.height)
              if img.getpixel((x, y))[3] > 200]
    assert opaque and all(max(p[:3]) < 60 for p in opaque)           # … and dark, whatever the pen colour
    assert max(thumb.width, thumb.height) <= 320
    assert not img.info.get("exif") and "icc_profile" not in img.info


@pytest.mark.parametrize("canvas", [
    f.signature_png(strokes=False),
    f.signature_png(background=(255, 255, 255, 255), strokes=False),
    f.dot_png(),
], ids=["transparent-blank", "white-blank", "a-dot"])
def test_blank_and_near_blank_signatures_are_refused_with_a_clear_message(canvas):
    with pytest.raises(Invalid) as caught:
        process_signature(canvas)
    assert caught.value.message_key == "attachment.signature_blank"
    assert caught.value.errors[0]["path"] == "/file"


def test_signature_size_is_capped():
    full, _ = process_signature(f.signature_png(size=(3000, 1000)))
    assert max(full.width, full.height) <= 1200
    with pytest.raises(PayloadTooLarge):
        process_signature(b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024))
    with pytest.raises(UnsupportedMediaType):
        process_signature(f.pdf())


@pytest.mark.parametrize("img, fmt, expected", [
    (Image.new("I;16", (300, 200), 30000), "PNG", (116, 116, 116)),      # 16-bit grey scaled, not clipped
    (Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "JPEG", (254, 0, 0)),
    (Image.new("L", (300, 200), 77), "JPEG", (77, 77, 77)),
    (Image.new("P", (300, 200), 0), "PNG", (0, 0, 0)),
], ids=["png-16bit", "jpeg-cmyk", "jpeg-grey", "png-palette"])
def test_other_colour_modes_become_plain_rgb(img, fmt, expected):
    data = io.BytesIO()
    img.save(data, fmt)
    full, _ = process_photo(data.getvalue(), max_pixels=CAP)
    out = _open(full.data)
    assert out.mode == "RGB" and all(abs(a - b) <= 3 for a, b in zip(out.getpixel((5, 5)), expected))
