"""Configuration: every ZHANGBAN_* value checked at start-up, one clear line for a bad one."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.settings import ConfigError, Settings, ensure_keys, from_env


@pytest.mark.parametrize("env, variable", [
    ({"ZHANGBAN_MONGODB_URI": "postgres://x"}, "ZHANGBAN_MONGODB_URI"),
    ({"ZHANGBAN_MONGODB_URI": "mongodb://db:notaport/zb"}, "ZHANGBAN_MONGODB_URI"),
    ({"ZHANGBAN_MONGODB_URI": "mongodb://db/zb?replicaSet"}, "ZHANGBAN_MONGODB_URI"),
    ({"ZHANGBAN_S3_ENDPOINT": "minio:port"}, "ZHANGBAN_S3_ENDPOINT"),
    ({"ZHANGBAN_S3_ENDPOINT": "http://minio:9000/path"}, "ZHANGBAN_S3_ENDPOINT"),
    ({"ZHANGBAN_S3_SECURE": "maybe"}, "ZHANGBAN_S3_SECURE"),
    ({"ZHANGBAN_S3_BUCKET": "Bad_Bucket"}, "ZHANGBAN_S3_BUCKET"),
    ({"ZHANGBAN_TOKEN_KEY": "c2hvcnQ="}, "ZHANGBAN_TOKEN_KEY"),
    ({"ZHANGBAN_PII_KEY": "not base64 !!"}, "ZHANGBAN_PII_KEY"),
    ({"ZHANGBAN_ACCESS_TOKEN_SECONDS": "ten"}, "ZHANGBAN_ACCESS_TOKEN_SECONDS"),
    ({"ZHANGBAN_ACCESS_TOKEN_SECONDS": "5"}, "ZHANGBAN_ACCESS_TOKEN_SECONDS"),
    ({"ZHANGBAN_LOG_LEVEL": "LOUD"}, "ZHANGBAN_LOG_LEVEL"),
    ({"ZHANGBAN_WECHAT_API_BASE": "ftp://x"}, "ZHANGBAN_WECHAT_API_BASE"),
    ({"ZHANGBAN_ENV": "staging"}, "ZHANGBAN_ENV"),
    ({"ZHANGBAN_MONGO_URL": "mongodb://x"}, "ZHANGBAN_MONGO_URL"),
])
def test_bad_values_are_refused_naming_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        from_env(env)
    assert str(caught.value).startswith(variable + ":")


def test_production_requires_real_servers_and_keys():
    with pytest.raises(ConfigError, match="ZHANGBAN_MONGODB_URI"):
        from_env({"ZHANGBAN_ENV": "production"})
    with pytest.raises(ConfigError, match="ZHANGBAN_TOKEN_KEY"):
        from_env({"ZHANGBAN_ENV": "production", "ZHANGBAN_MONGODB_URI": "mongodb://db/zb",
                  "ZHANGBAN_S3_ENDPOINT": "minio:9000"})


def test_good_values_are_parsed():
    s = from_env({"ZHANGBAN_S3_ENDPOINT": "https://minio.example:9000", "ZHANGBAN_ACCESS_TOKEN_SECONDS": "600",
                  "ZHANGBAN_LOG_LEVEL": "debug", "ZHANGBAN_TOKEN_KEY": "A" * 43})
    assert s.s3_endpoint == "minio.example:9000" and s.s3_secure is True
    assert s.access_token_seconds == 600 and s.log_level == "DEBUG" and len(s.token_key) == 32


def test_embedded_mode_generates_keys_once_and_keeps_them(tmp_path):
    first = ensure_keys(Settings(data_dir=tmp_path))
    second = ensure_keys(Settings(data_dir=tmp_path))
    assert first.token_key == second.token_key and first.pii_key == second.pii_key
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"


def test_the_command_line_prints_one_line_and_exits(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")},
           "ZHANGBAN_DATA_DIR": str(tmp_path), "ZHANGBAN_LOG_LEVEL": "NOISY"}
    r = subprocess.run([sys.executable, "-m", "api", "seed-demo"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["configuration error: ZHANGBAN_LOG_LEVEL: expected one of "
                                             "DEBUG, INFO, WARNING, ERROR, got 'NOISY'"]


def _keys_in(args):
    import time

    data_dir, start = args
    time.sleep(max(0.0, start - time.time()))   # all at once
    keys = ensure_keys(Settings(data_dir=data_dir))
    return keys.token_key, keys.pii_key


def test_processes_starting_together_agree_on_the_generated_keys(tmp_path):
    # Two gunicorn workers (or a worker and a command) on a fresh data dir: one set of keys must win for all,
    # or data encrypted by one is unreadable by the rest, for good.
    import multiprocessing
    import time

    for attempt in range(5):
        data_dir = tmp_path / str(attempt)
        with multiprocessing.get_context("fork").Pool(6) as pool:
            results = pool.map(_keys_in, [(data_dir, time.time() + 0.3)] * 6)
        assert len(set(results)) == 1
        assert ensure_keys(Settings(data_dir=data_dir)).pii_key == results[0][1]


def test_gunicorns_entry_point_prints_one_line_for_a_bad_value(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")},
           "ZHANGBAN_DATA_DIR": str(tmp_path), "ZHANGBAN_S3_SECURE": "perhaps"}
    r = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert r.stderr.strip().splitlines() == ["configuration error: ZHANGBAN_S3_SECURE: expected true or false, "
                                             "got 'perhaps'"]


def test_the_entry_point_keeps_what_start_up_made_out_of_the_collectors_walks(tmp_path, settings):
    """wsgi.py freezes the app's start-up objects (gc.freeze): full collections no longer walk them."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")},
           "ZHANGBAN_DATA_DIR": str(tmp_path), "ZHANGBAN_MONGODB_URI": settings.mongodb_uri}
    r = subprocess.run([sys.executable, "-c", "import gc, wsgi; print(gc.get_freeze_count(), len(gc.get_objects()))"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    frozen, tracked = map(int, r.stdout.split())
    assert frozen > 50_000 and tracked < frozen / 10, (frozen, tracked)


def test_a_message_with_a_stray_brace_is_still_said():
    from api import i18n

    i18n.register({"test.brace": ("坏的 {模板", "a broken {template")})
    assert i18n.message("test.brace", {"x": 1}, lang="en") == "a broken {template"
