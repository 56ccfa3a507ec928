"""Starting real `zhangban worker` processes against the test database and the fake WeChat server."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_env(settings, fake_wechat=None, **extra) -> dict:
    """ZHANGBAN_* for a worker process sharing the test app's database, keys and fake WeChat."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")}
    env.update({"ZHANGBAN_ENV": "test", "ZHANGBAN_MONGODB_URI": settings.mongodb_uri,
                "ZHANGBAN_DATA_DIR": str(settings.data_dir),
                "ZHANGBAN_TOKEN_KEY": base64.urlsafe_b64encode(settings.token_key).decode(),
                "ZHANGBAN_PII_KEY": base64.urlsafe_b64encode(settings.pii_key).decode(),
                "ZHANGBAN_LOG_LEVEL": "WARNING", "ZHANGBAN_WORKER_IDLE_SECONDS": "0.1"})
    if fake_wechat is not None:
        env.update({"ZHANGBAN_WECHAT_APPID": fake_wechat.appid, "ZHANGBAN_WECHAT_SECRET": fake_wechat.secret,
                    "ZHANGBAN_WECHAT_API_BASE": fake_wechat.base_url})
    for name, value in extra.items():
        env[f"ZHANGBAN_{name.upper()}"] = json.dumps(value) if isinstance(value, dict) else str(value)
    return env


def start_worker(env: dict, *args: str) -> subprocess.Popen:
    """`zhangban worker` from this tree (the installed entry point may be another checkout's)."""
    return subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "worker", *args],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_all(processes) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pass
