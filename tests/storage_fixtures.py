"""Files a phone might send (and a few hostile ones), made with Pillow; and a JPEG segment reader for checks."""
from __future__ import annotations

import io
import random
import struct

from PIL import Image, ImageChops, ImageDraw, ImageFilter

GPS = {1: "N", 2: (31.0, 14.0, 22.5), 3: "E", 4: (121.0, 28.0, 3.1)}
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Nanjing"/>'
       b'</rdf:RDF></x:xmpmeta>')


def exif(orientation: int = 1, gps: bool = True) -> Image.Exif:
    data = Image.Exif()
    data[0x0112] = orientation
    data[0x010F] = "PhoneMaker"
    data[0x0110] = "Phone 15"
    if gps:
        data[0x8825] = GPS
    return data


def iptc_segment(caption: bytes = b"Zhang San, Room 301") -> bytes:
    """A Photoshop APP13 segment carrying an IPTC caption (what newsroom and some phone apps write)."""
    record = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    if len(record) % 2:
        record += b"\x00"
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(record)) + record
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def marked_image(size=(400, 200), mode="RGB") -> Image.Image:
    """A grey picture with a red block in its top-left corner (to see where orientation put it)."""
    img = Image.new(mode, size, (128, 128, 128) if mode == "RGB" else (128, 128, 128, 255))
    ImageDraw.Draw(img).rectangle([0, 0, size[0] // 5, size[1] // 5], fill=(220, 0, 0))
    return img


def jpeg(img: Image.Image | None = None, *, orientation: int = 1, gps: bool = True, xmp: bool = True,
         iptc: bool = True, icc: bytes | None = None, comment: bytes | None = b"shot at 12 Zhongshan Rd",
         quality: int = 90) -> bytes:
    img = img or marked_image()
    out = io.BytesIO()
    params = {"quality": quality, "exif": exif(orientation, gps)}
    if xmp:
        params["xmp"] = XMP
    if iptc:
        params["extra"] = iptc_segment()
    if icc:
        params["icc_profile"] = icc
    if comment:
        params["comment"] = comment
    img.save(out, "JPEG", **params)
    return out.getvalue()


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def phone_photo(width=4000, height=3000, seed=1, noise=8) -> Image.Image:
    """A 12-MP scene: gradients, blocks, rings, text and sensor-like noise (about 4 MB as a q92 JPEG)."""
    rnd = random.Random(seed)
    r = Image.linear_gradient("L").resize((width, height))
    g = Image.radial_gradient("L").resize((width, height))
    img = Image.merge("RGB", (r, g, ImageChops.invert(r)))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y, s = rnd.randrange(width), rnd.randrange(height), rnd.randrange(50, 600)
        draw.rectangle([x, y, x + s, y + s // 2], fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
        draw.ellipse([x, y, x + s // 2, y + s], outline=(rnd.randrange(256),) * 3, width=5)
    for _ in range(200):
        draw.text((rnd.randrange(width), rnd.randrange(height)), "ZHANGBAN 320102199001011234", fill=(0, 0, 0))
    grain = Image.effect_noise((width, height), noise).convert("RGB")
    img = ImageChops.add(img, grain, scale=1.0, offset=-100)
    return Image.blend(img, grain.filter(ImageFilter.GaussianBlur(1)), 0.15)


def png_bomb(width=10_000, height=10_000) -> bytes:
    """100 MP of nothing: a 1-bit PNG of a few kilobytes that decodes to 300 MB of RGB."""
    return png(Image.new("1", (width, height), 0))


def jpeg_with_declared_size(width: int, height: int) -> bytes:
    """A tiny valid JPEG whose frame header claims width × height (a bomb in a small file)."""
    data = bytearray(jpeg(Image.new("RGB", (16, 16), (10, 20, 30)), xmp=False, iptc=False, comment=None))
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, i + 5, height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


def signature_png(size=(900, 300), ink=(20, 60, 200, 255), background=(0, 0, 0, 0), strokes=True) -> bytes:
    """A signature drawn on a canvas: curvy strokes in the middle, empty margins all round."""
    img = Image.new("RGBA", size, background)
    if strokes:
        draw = ImageDraw.Draw(img)
        w, h = size
        points = [(w * 0.2 + i * 6, h * 0.5 + (h * 0.15) * ((-1) ** (i // 7)) * ((i % 7) / 7)) for i in range(80)]
        draw.line(points, fill=ink, width=5, joint="curve")
        draw.line([(w * 0.3, h * 0.35), (w * 0.55, h * 0.65)], fill=ink, width=4)
    return png(img)


def dot_png(size=(900, 300)) -> bytes:
    """A canvas with one tap on it: not a signature."""
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    img.paste((0, 0, 0, 255), (size[0] // 2, size[1] // 2, size[0] // 2 + 5, size[1] // 2 + 5))
    return png(img)


def pdf(pages: int = 1) -> bytes:
    """A minimal, valid PDF."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the image data; fails on anything that is not a JPEG."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    segments, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF, f"bad marker at {i}"
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        segments.append((marker, data[i + 4:i + 2 + length]))
        if marker == 0xDA:   # start of scan: entropy-coded data follows
            break
        i += 2 + length
    return segments


def assert_clean_jpeg(data: bytes) -> None:
    """No EXIF (GPS), XMP, IPTC, ICC or comment anywhere in the header; progressive."""
    segments = jpeg_segments(data)
    markers = {m for m, _ in segments}
    assert markers.isdisjoint({0xE1, 0xE2, 0xED, 0xFE}), sorted(hex(m) for m in markers)
    assert {m for m in markers if 0xE0 <= m <= 0xEF} <= {0xE0}   # JFIF only
    assert 0xC2 in markers, "not progressive"
    for needle in (b"Exif\x00\x00", b"http://ns.adobe.com", b"Photoshop 3.0", b"ICC_PROFILE", b"Zhongshan",
                   b"PhoneMaker"):
        assert needle not in data, needle


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def swapped_rgb_profile() -> bytes:
    """An ICC v2 RGB profile whose red and blue primaries are swapped (gamma 2.2), named so nobody takes it
    for sRGB: a pixel (255, 0, 0) in it is blue in sRGB. Proves the pipeline converts rather than drops."""
    def xyz(x, y, z):
        return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)

    name = b"Swapped primaries test RGB"
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(name) + 1) + name + b"\0" + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0) + b"\0" * 67)
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)), (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
            (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text\0\0\0\0test\0\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0\0\0\0" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 4 + b"\0" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def _scan_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan of a JPEG: its SOS segment and the entropy-coded data after it."""
    import re
    marker = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
    spans, pos = [], data.find(b"\xff\xda")
    while pos != -1:
        end = marker.search(data, pos + 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]).start()
        spans.append((pos, end))
        pos = data.find(b"\xff\xda", end)
    return spans


def progressive_jpeg(img: Image.Image | None = None, *, scans: int | None = None) -> bytes:
    """A progressive JPEG (libjpeg writes 10 scans for colour); with `scans`, its smallest scan (a few bytes of
    refinement) is repeated until the file has that many — how a scan bomb is built by rewriting markers."""
    out = io.BytesIO()
    (img or phone_photo(800, 600)).save(out, "JPEG", quality=90, progressive=True)
    data = out.getvalue()
    spans = _scan_spans(data)
    if scans is None or scans == len(spans):
        return data
    start, end = min(spans, key=lambda span: span[1] - span[0])
    last = spans[-1][1]
    return data[:last] + data[start:end] * (scans - len(spans)) + data[last:]


def scan_count(data: bytes) -> int:
    return len(_scan_spans(data))


def webp(img: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, "WEBP", **params)
    return out.getvalue()
