"""The storage settings: parsed from ZHANGBAN_* variables, with limits that protect residents."""
from __future__ import annotations

import pytest

from core.settings import ConfigError, Settings, from_env


def test_defaults():
    s = Settings()
    assert (s.upload_max_bytes, s.image_max_pixels, s.keep_originals, s.presign_seconds) == \
        (15 * 1024 * 1024, 40_000_000, False, 300)
    assert (s.storage_gc_grace_seconds, s.signature_retention_days, s.s3_public_url) == (3600, 3650, None)
    assert (s.image_decode_mb, s.image_decodes) == (256, 2)


def test_values_are_read_from_the_environment():
    s = from_env({"ZHANGBAN_UPLOAD_MAX_BYTES": "2000000", "ZHANGBAN_IMAGE_MAX_PIXELS": "20000000",
                  "ZHANGBAN_KEEP_ORIGINALS": "yes", "ZHANGBAN_PRESIGN_SECONDS": "60",
                  "ZHANGBAN_STORAGE_GC_GRACE_SECONDS": "600", "ZHANGBAN_SIGNATURE_RETENTION_DAYS": "0",
                  "ZHANGBAN_S3_PUBLIC_URL": "https://files.example.gov.cn/",
                  "ZHANGBAN_IMAGE_DECODE_MB": "512", "ZHANGBAN_IMAGE_DECODES": "4"})
    assert (s.image_decode_mb, s.image_decodes) == (512, 4)
    assert (s.upload_max_bytes, s.image_max_pixels, s.keep_originals, s.presign_seconds) == \
        (2_000_000, 20_000_000, True, 60)
    assert (s.storage_gc_grace_seconds, s.signature_retention_days) == (600, 0)
    assert s.s3_public_url == "https://files.example.gov.cn"


@pytest.mark.parametrize("name, value", [
    ("PRESIGN_SECONDS", "301"),            # links never live longer than five minutes
    ("PRESIGN_SECONDS", "0"),
    ("UPLOAD_MAX_BYTES", "lots"),
    ("IMAGE_MAX_PIXELS", "999999999"),
    ("STORAGE_GC_GRACE_SECONDS", "5"),     # shorter than an upload in flight
    ("KEEP_ORIGINALS", "maybe"),
    ("IMAGE_DECODE_MB", "8"),              # below what one ordinary photo needs
    ("IMAGE_DECODES", "0"),                # no decode could ever run
    ("S3_PUBLIC_URL", "files.example.gov.cn"),
])
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=f"ZHANGBAN_{name}"):
        from_env({f"ZHANGBAN_{name}": value})
