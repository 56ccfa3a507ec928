"""How fast bad input is refused and accepted patterns run: the timings the unit tests no longer assert (a busy
machine made them fail). Reports JSON under tests/perf/results; never fails on time."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from forms import language, validation
from storage.images import process_photo
from storage.signatures import process_signature
from tests import storage_fixtures as f
from tests.forms_fixtures import valid_data
from tests.perf.report import percentiles, timed, write_result
from tests.test_forms_validation import FORM
from tests.test_storage_images import CAP, _junk_segments

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

ORDINARY = [r"^1[3-9]\d{9}$", r"^[a-z]+(-[a-z]+)*$", r"^(\d+,)*\d+$", r"^(\d{3}-?)+$", r"^[\u4e00-\u9fa5]{2,20}$",
            r"^(ab|cd)+$", r"^(\d+\.)?\d+$"]
ACCEPTED = [r"\d*\d*x", r"(\d*)\d*x", r"[0-9]+[a-z]", r"^\d+\s*\d*$", r".*x", r"^\s*\S+\s*$", r"^\S+\s+\S+$",
            r"\D*\d*x", r"[^,]*,*x", r"\s*\S*\s*\S*x"]


def _refused(fn):
    def run():
        try:
            fn()
        except Exception:   # noqa: BLE001 — refusing is what is measured
            return
        raise AssertionError("not refused")
    return run


def test_refusals_and_patterns_stay_fast():
    results = {}
    for pattern in ORDINARY:
        results[f"ordinary {pattern} on 200 chars"] = percentiles(
            timed(lambda: re.search(pattern, "a" * 199 + "!"), 20, warmup=1))
    for pattern in ACCEPTED:
        form, errors = language.analyze({"type": "object", "properties": {
            "f": {"type": "string", "pattern": pattern, "maxLength": language.MAX_PATTERN_TEXT}}})
        if errors:
            continue
        n = form.fields[0].node["maxLength"]
        worst = max(max(timed(lambda: re.search(pattern, text), 3, warmup=0))
                    for text in ("0" * n, " " * n, "a " * (n // 2), ",0" * (n // 2)))
        results[f"accepted {pattern} on {n} chars, worst ms"] = round(worst, 3)

    bad = dict(valid_data(), family=[{"member_name": "x", "relation": "child"}] * 10000, reason="长" * 10_000_000)
    results["form data: 10,000 rows and 10 M characters"] = percentiles(
        timed(_refused(lambda: validation.validate(FORM, bad)), 10, warmup=1))

    for name, bomb in (("png 100 MP", f.png_bomb), ("jpeg header 100 MP", lambda: f.jpeg_with_declared_size(10_000, 10_000))):
        data = bomb()
        results[f"bomb {name}"] = percentiles(timed(_refused(lambda: process_photo(data, max_pixels=CAP)), 10, warmup=1))
    for media_type in ("jpeg", "jpeg-fill", "png"):
        out = io.BytesIO()
        Image.new("RGB", (32, 32), (200, 30, 30)).save(out, media_type.split("-")[0].upper())
        photo = _junk_segments(out.getvalue(), media_type, 1_000_000)
        signature = _junk_segments(out.getvalue(), media_type, 150_000)
        results[f"{media_type}: a million empty segments"] = percentiles(
            timed(_refused(lambda: process_photo(photo, max_pixels=CAP)), 5, warmup=1))
        results[f"{media_type}: signature, 150,000 segments"] = percentiles(
            timed(_refused(lambda: process_signature(signature)), 5, warmup=1))
    write_result("refusals", {"results": results,
                              "note": "was asserted in unit tests: < 0.05 s (patterns, form data, bombs), "
                                      "< 0.3 s (segments), < 0.5 s (accepted patterns)"})
