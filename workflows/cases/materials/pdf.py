"""The result document (PDF) drawn with ReportLab.

Chinese text uses ReportLab's built-in Adobe CID font STSong-Light (Adobe-GB1): nothing to ship or embed, the
text stays searchable and extractable, and PDF readers supply the glyphs (Acrobat, pdf.js and Chrome do; poppler
needs its poppler-data). ASCII facts (numbers, the hash) are in Helvetica. `invariant` output: the same facts and
images give the same bytes.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

CJK = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CJK))
RED = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class Facts:
    title: str                 # 准予许可决定书
    service: str               # 居住证申领
    applicant: str             # 张三
    decision: str              # 准予办理
    application_number: str    # ZB2026112700001
    number: str                # the licence number DZ2026112700001
    date: str                  # 2026-11-27 (China date)
    issuer: str                # 民政局
    valid_until: str           # 长期 or a date

    def canonical(self, seal_sha256: str, signature_sha256: str) -> dict:
        """What the printed hash covers."""
        return {**self.__dict__, "seal_sha256": seal_sha256, "signature_sha256": signature_sha256}


def render(facts: Facts, content_hash: str, *, seal: bytes | None, signature: bytes | None,
           verify_path: str) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, invariant=1)
    c.setTitle(f"{facts.title} {facts.number}")
    c.setAuthor(facts.issuer)
    width, height = A4
    c.setFont(CJK, 22)
    c.drawCentredString(width / 2, height - 40 * mm, facts.title)
    c.setFont("Helvetica", 10)
    c.drawCentredString(width / 2, height - 48 * mm, f"No. {facts.number}")
    lines = [("事项", facts.service), ("申请人", facts.applicant), ("办件编号", facts.application_number),
             ("办理结果", facts.decision), ("证照编号", facts.number), ("有效期至", facts.valid_until),
             ("签发部门", facts.issuer), ("签发日期", facts.date)]
    y = height - 70 * mm
    for label, value in lines:
        c.setFont(CJK, 13)
        c.drawString(30 * mm, y, f"{label}：")
        _mixed(c, 60 * mm, y, value, 13)
        y -= 11 * mm
    c.setFont(CJK, 11)
    c.drawString(30 * mm, y - 4 * mm, "经审查，申请符合规定，准予办理。")
    # the approver's signature and the department's seal, bottom right
    base = 75 * mm
    if signature:
        c.setFont(CJK, 11)
        c.drawString(105 * mm, base + 22 * mm, "审批人：")
        c.drawImage(ImageReader(io.BytesIO(signature)), 122 * mm, base + 16 * mm, width=40 * mm, height=16 * mm,
                    preserveAspectRatio=True, mask="auto")
    if seal:
        c.drawImage(ImageReader(io.BytesIO(seal)), 130 * mm, base - 22 * mm, width=42 * mm, height=42 * mm,
                    preserveAspectRatio=True, mask="auto")
    else:
        _drawn_seal(c, 151 * mm, base, 21 * mm, facts.issuer)
    c.setFont(CJK, 9)
    c.drawString(20 * mm, 28 * mm, "本文件为电子证照，可凭证照编号与校验码在线核验：")
    c.setFont("Helvetica", 8)
    c.drawString(20 * mm, 23 * mm, f"SHA-256: {content_hash}")
    c.drawString(20 * mm, 18 * mm, f"Verify: {verify_path}?number={facts.number}&hash=<SHA-256 above>")
    c.showPage()
    c.save()
    return out.getvalue()


def _mixed(c, x, y, text: str, size: int) -> None:
    """ASCII in Helvetica, the rest in the CJK font (numbers read better and extract as plain text)."""
    font = "Helvetica" if text.isascii() else CJK
    c.setFont(font, size)
    c.drawString(x, y, text)


def _drawn_seal(c, cx, cy, r, issuer: str) -> None:
    """A department without an uploaded seal image gets a drawn round seal: a red ring, a star, its name."""
    c.saveState()
    c.setStrokeColorRGB(*RED)
    c.setFillColorRGB(*RED)
    c.setLineWidth(2)
    c.circle(cx, cy, r, stroke=1, fill=0)
    star, outer = c.beginPath(), r / 3
    points = []
    for i in range(10):
        radius, angle = (outer if i % 2 == 0 else outer * 0.4), math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    star.moveTo(*points[0])
    for p in points[1:]:
        star.lineTo(*p)
    star.close()
    c.drawPath(star, stroke=0, fill=1)
    c.setFont(CJK, 9)
    c.drawCentredString(cx, cy - r * 0.65, (issuer or "")[:12])
    c.restoreState()
