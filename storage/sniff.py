"""What a file is, from its first bytes: never from its name or the type the client declared."""
from __future__ import annotations

JPEG, PNG, WEBP, HEIC, PDF = "image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"

_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")

# Pillow's plugin for each image type: Image.open(..., formats=[…]) then tries no other decoder.
PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}


def sniff(data: bytes) -> str | None:
    """The media type named by the file's magic number, or None for anything we do not take."""
    head = bytes(data[:16])
    if head[:3] == b"\xff\xd8\xff":
        return JPEG
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return HEIC
    if head[:5] == b"%PDF-":
        return PDF
    return None
