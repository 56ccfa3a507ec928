"""The worst uploads the image limits allow: peak memory and time of each, and of two at once in one worker.

For each format and mode the largest square image whose estimated peak fits the default per-decode budget
(ZHANGBAN_IMAGE_DECODE_MB, 256) is built, plus the largest JPEGs the pixel cap allows (40 MP baseline, and
progressive 4:4:4 with the maximum of 64 scans). Each runs in a fresh interpreter that has already processed a
small image of the same kind (so libraries are loaded), resets its peak RSS (`/proc/self/clear_refs`), runs
the pipeline three times and reports the peak above its RSS before, with CPU and wall time. `two_at_once` runs
the two hungriest cases in two threads of one process — the default ZHANGBAN_IMAGE_DECODES. The benchmark
asserts only that each measured peak stays below its estimate (the memory budget holds); times are reported.
Run: `.venv/bin/python -m pytest tests/perf/test_images_worst_case.py -q -s` (JSON in tests/perf/results/).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from storage import decoding
from storage import sniff as sniffing
from storage.images import DEFAULT_DECODE_BYTES, dct_scale
from tests import storage_fixtures as f
from tests.perf.report import write_result

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
UPLOAD_CAP = 15 * MIB
PIXEL_CAP = 40_000_000


def _smooth(mode: str, side: int) -> Image.Image:
    """Gradients (compress well, so a large image stays under the upload cap) in the given mode."""
    r = Image.linear_gradient("L").resize((side, side))
    g = Image.radial_gradient("L").resize((side, side))
    rgb = Image.merge("RGB", (r, g, r.transpose(Image.Transpose.ROTATE_90)))
    if mode == "RGBA":
        return Image.merge("RGBA", (*rgb.split(), g))
    if mode == "I;16":
        return r.convert("I").point(lambda v: v * 257).convert("I;16")
    return rgb.convert(mode)


def _encode(img: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def _estimate(data: bytes, kind: str = "photo") -> int:
    img = Image.open(io.BytesIO(data))
    coefficients = decoding.jpeg_coefficient_bytes(img, decoding.check_structure(data, sniffing.sniff(data)))
    if kind == "signature":
        return decoding.signature_peak_bytes(img, coefficients)
    if img.format == "JPEG" and dct_scale(max(img.size)) > 1:
        scale = dct_scale(max(img.size))
        img.draft("RGB", (img.width // scale, img.height // scale))
    return decoding.photo_peak_bytes(img, coefficients)


def _largest_side(estimate, budget: int) -> int:
    """The largest square side within the pixel cap whose estimated peak (a function of the side) fits."""
    side = int(PIXEL_CAP ** 0.5)
    while estimate(side) > budget:
        side -= 10
    return side


def _progressive_444(side: int) -> int:
    """The estimate for a progressive 4:4:4 JPEG of side × side, as the pipeline computes it."""
    decoded = -(-side // dct_scale(side))
    blocks = -(-side // 8)
    return decoded * decoded * decoding.PHOTO_BYTES_PER_PIXEL["JPEG"] + 3 * blocks * blocks * 128 + \
        decoding.FIXED_BYTES


def _flat(key: str):
    return lambda side: side * side * decoding.PHOTO_BYTES_PER_PIXEL[key] + decoding.FIXED_BYTES


def _cases(budget: int) -> dict:
    cases = {}
    baseline = _encode(f.phone_photo(7300, 5479), "JPEG", quality=85)           # 40.0 MP
    cases["jpeg_baseline_40mp"] = ("photo", baseline)

    side = _largest_side(_progressive_444, budget)
    source = f.phone_photo(side, side)
    out = io.BytesIO()
    source.save(out, "JPEG", quality=85, progressive=True, subsampling=0)
    spans = f._scan_spans(out.getvalue())
    data = out.getvalue()
    start, end = min(spans, key=lambda span: span[1] - span[0])
    cases["jpeg_progressive_444_64_scans"] = ("photo", data[:spans[-1][1]] + data[start:end] * (
        decoding.MAX_SCANS - len(spans)) + data[spans[-1][1]:])

    for name, fmt, mode, key, params in (("png_rgb", "PNG", "RGB", "PNG", {}),
                                         ("png_rgba", "PNG", "RGBA", "PNG+alpha", {}),
                                         ("png_16bit_grey", "PNG", "I;16", "PNG+16bit", {}),
                                         ("webp_rgb", "WEBP", "RGB", "WEBP", {"quality": 80}),
                                         ("webp_rgba", "WEBP", "RGBA", "WEBP+alpha", {"quality": 80})):
        side = _largest_side(_flat(key), budget)
        cases[f"{name}_at_budget"] = ("photo", _encode(_smooth(mode, side), fmt, **params))
    # signatures: ≤ 8 MP, ≤ 2 MB; WebP with alpha is the hungriest
    cases["signature_webp_rgba_8mp"] = ("signature", _encode(_smooth("RGBA", 2828), "WEBP", quality=80))
    return cases


CHILD = r"""
import io, json, re, sys, threading, time
from storage.images import process_photo
from storage.signatures import process_signature
kb = lambda key: int(re.search(key + r':\s+(\d+)', open('/proc/self/status').read()).group(1))
jobs = json.loads(sys.argv[1])
run = {"photo": lambda d: process_photo(d, max_pixels=40_000_000), "signature": process_signature}
files = [(kind, open(path, 'rb').read(), open(warm, 'rb').read()) for kind, path, warm in jobs]
for kind, _, warm in files:
    try:
        run[kind](warm)
    except Exception:   # a blank signature is refused: the libraries are loaded all the same
        pass
before = kb('VmRSS')
open('/proc/self/clear_refs', 'w').write('5')
peaks, walls, cpus = [], [], []
for _ in range(3):
    start, start_cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=run[kind], args=(data,)) for kind, data, _ in files]
    for t in threads: t.start()
    for t in threads: t.join()
    walls.append((time.perf_counter() - start) * 1000)
    cpus.append((time.process_time() - start_cpu) * 1000)
    peaks.append(kb('VmHWM') - before)
print(json.dumps({"before_mb": before / 1024, "peak_above_before_mb": max(peaks) / 1024,
                  "wall_ms": sorted(walls)[1], "cpu_ms": sorted(cpus)[1]}))
"""


def _child(jobs: list[tuple[str, Path, Path]]) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([[k, str(p), str(w)] for k, p, w in jobs])],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {k: round(v, 1) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.timeout(1800)
def test_worst_case_uploads_the_limits_allow(tmp_path):
    budget = DEFAULT_DECODE_BYTES
    cases = _cases(budget)
    results, paths = {}, {}
    for name, (kind, data) in cases.items():
        assert len(data) <= (UPLOAD_CAP if kind == "photo" else 2 * MIB), (name, len(data))
        img = Image.open(io.BytesIO(data))
        estimate = _estimate(data, kind)
        assert estimate <= budget, (name, estimate)
        path, warm = tmp_path / f"{name}.bin", tmp_path / f"{name}.warm"
        path.write_bytes(data)
        warm.write_bytes(_encode(Image.new(img.mode if img.mode != "I;16" else "I;16", (64, 64)), img.format))
        paths[name] = (kind, path, warm)
        measured = _child([paths[name]])
        results[name] = {"kind": kind, "format": img.format, "mode": img.mode, "size": list(img.size),
                         "bytes": len(data), "estimate_mb": round(estimate / MIB, 1), **measured}
    hungriest = sorted(results, key=lambda n: results[n]["peak_above_before_mb"])[-2:]
    together = _child([paths[n] for n in hungriest])
    result = {"budget_mb": budget // MIB, "decodes_at_once": 2, "cases": results,
              "two_at_once": {"cases": hungriest, **together},
              "worst_peak_mb": max(r["peak_above_before_mb"] for r in results.values()),
              "worst_wall_ms": max(r["wall_ms"] for r in results.values()),
              "worst_cpu_ms": max(r["cpu_ms"] for r in results.values()),
              "load_average": os.getloadavg()[0]}
    write_result("image_worst_case", result)
    for name, r in results.items():
        assert r["peak_above_before_mb"] <= r["estimate_mb"], (name, r)
    assert together["peak_above_before_mb"] <= 2 * budget / MIB, together
