"""The production image starts: its migration runs, its API reaches readiness and serves the browser apps, and its
worker runs.

No Docker daemon runs here, so the image is started as its files say, by hand: the Dockerfile's final stage gives
the working dir (a read-only copy of what it copies, the browser apps' dist/ included), the user (its uid, when
this test runs as root: root ignores file modes), the environment and the command; docker-compose.yml gives the
service environment, the worker's command and the data dir's volume (an empty directory the image's user owns).
Only the addresses change: the test servers' MongoDB and MinIO, a free loopback port, the volume's path here.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def final_stage() -> dict:
    """WORKDIR, USER (and its uid from useradd), ENV, CMD and COPY sources of the Dockerfile's last stage."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    last = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    stage = {"env": {}, "copies": [], "built": []}
    for line in lines[last + 1:]:
        word, _, rest = line.partition(" ")
        if word == "WORKDIR":
            stage["workdir"] = rest.strip()
        elif word == "USER":
            stage["user"] = rest.strip()
        elif word == "ENV":
            stage["env"].update(dict(re.findall(r"(\w+)=(\S+)", rest)))
        elif word == "CMD":
            stage["cmd"] = json.loads(rest)
        elif word == "COPY" and rest.startswith("--from="):
            stage["built"].append(rest.split()[-1])          # built in an earlier stage: dist/ of a browser app
        elif word == "COPY":
            stage["copies"] += rest.split()[:-1]
        elif word == "RUN" and "useradd" in rest:
            stage["uid"] = int(re.search(r"--uid (\d+)", rest).group(1))
    return stage


def compose_env(service: str, values: dict) -> dict:
    """A service's environment from docker-compose.yml, ${VAR…} filled from `values` (the .env)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]

    def fill(value):
        return re.sub(r"\$\{(\w+)(?::[-?][^}]*)?\}", lambda m: values.get(m.group(1), ""), str(value))
    return {key: fill(value) for key, value in services[service]["environment"].items()}


def compose_service(service: str) -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_image_user(uid: int | None):
    if uid is None:
        return None

    def drop():
        os.setgid(uid)
        os.setgroups([])
        os.setuid(uid)
    return drop


def interpreter_for(uid: int | None, site_packages: str, cwd: Path) -> str:
    """A Python the image's user may run that imports the app's dependencies (this one may sit under a home
    directory only root can enter)."""
    for candidate in dict.fromkeys([sys.executable, "/usr/local/bin/python3", "/usr/bin/python3"]):
        if not Path(candidate).exists():
            continue
        try:
            probe = subprocess.run([candidate, "-c", "import flask, gunicorn, pymongo, SpiffWorkflow"],
                                   env={"PYTHONPATH": site_packages, "PATH": "/usr/bin:/bin"}, cwd=cwd,
                                   preexec_fn=as_image_user(uid), capture_output=True, timeout=60)
        except OSError:                 # not the user's to run
            continue
        if probe.returncode == 0:
            return candidate
    pytest.skip("no Python the image's user may run imports the dependencies")


@pytest.fixture
def image(servers):
    if not servers["minio"]:
        pytest.skip(f"the image's compose file uses MinIO: {servers['minio_error']}")
    # not pytest's tmp_path: its parents are root's alone, and the image's user must reach its files
    tmp_path = Path(tempfile.mkdtemp(prefix="zb-image-"))
    tmp_path.chmod(0o755)
    try:
        yield _image(tmp_path, servers)
    finally:
        for path in [tmp_path, *tmp_path.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        shutil.rmtree(tmp_path, ignore_errors=True)


def _image(tmp_path: Path, servers) -> dict:
    stage = final_stage()
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    for source in stage["copies"]:
        target = app_dir / Path(source).name
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
        else:
            shutil.copy2(ROOT / source, target)
    for built in stage["built"]:       # ./designer/web/dist, ./api/web/dist
        if not (ROOT / built / "index.html").exists():
            pytest.skip(f"{built} is not built (make web)")
        shutil.copytree(ROOT / built, app_dir / built, dirs_exist_ok=True)
    for path in [app_dir, *app_dir.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)              # the code is not the user's to write
    uid = stage["uid"] if os.geteuid() == 0 else None
    volume = tmp_path / "volume"                               # the named volume: empty, the user's
    volume.mkdir()
    if uid is not None:
        os.chown(volume, uid, uid)
    scratch = tmp_path / "tmp"                                 # the container's own /tmp
    scratch.mkdir()
    scratch.chmod(0o1777)
    key = lambda: base64.b64encode(secrets.token_bytes(32)).decode()   # noqa: E731
    dotenv = {"MINIO_ROOT_USER": servers["minio_user"], "MINIO_ROOT_PASSWORD": servers["minio_password"],
              "ZHANGBAN_TOKEN_KEY": key(), "ZHANGBAN_PII_KEY": key()}
    mounts = [v.split(":")[1] for v in compose_service("api").get("volumes", [])]
    site_packages = sysconfig.get_paths()["purelib"]

    def environment(service: str) -> dict:
        env = {**stage["env"], **compose_env(service, dotenv)}
        env = {k: str(volume) if v in mounts else v for k, v in env.items()}
        env.update(ZHANGBAN_MONGODB_URI=f"{servers['mongo_uri']}/zb_image_{os.getpid()}",
                   ZHANGBAN_S3_ENDPOINT=servers["minio"].removeprefix("http://"),
                   ZHANGBAN_S3_BUCKET=f"zb-image-{os.getpid()}", ZHANGBAN_S3_SECURE="false",
                   PROMETHEUS_MULTIPROC_DIR=env["PROMETHEUS_MULTIPROC_DIR"].replace("/tmp", str(scratch), 1), HOME=str(volume),
                   PYTHONPATH=site_packages, PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin")
        return env

    python = interpreter_for(uid, site_packages, app_dir)
    return {"stage": stage, "cwd": app_dir, "uid": uid, "environment": environment, "python": python,
            "volume": volume, "logs": tmp_path}


def start(image, command: list[str], service: str, log_name: str) -> subprocess.Popen:
    log = open(image["logs"] / log_name, "wb")
    return subprocess.Popen(command, cwd=image["cwd"], env=image["environment"](service), stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=as_image_user(image["uid"]), start_new_session=True)


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait()
    return process.returncode


def test_the_api_and_the_workers_share_the_data_dir_on_a_named_volume():
    stage, named = final_stage(), yaml.safe_load((ROOT / "docker-compose.yml").read_text())["volumes"]
    data_dir = compose_env("api", {}).get("ZHANGBAN_DATA_DIR") or stage["env"].get("ZHANGBAN_DATA_DIR")
    assert data_dir and data_dir.startswith("/")
    for service in ("api", "worker"):
        assert f"zhangban-data:{data_dir}" in compose_service(service).get("volumes", [])
    assert "zhangban-data" in named


@pytest.mark.timeout(300)
def test_the_images_api_and_worker_start_as_the_image_and_compose_file_say(image):
    # the compose file's one-shot migration first (the api and the worker wait for it to complete)
    migrate_cmd = compose_service("migrate")["command"]
    for service in ("api", "worker"):
        assert compose_service(service)["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    migrate = start(image, [image["python"], "-c", "from api.cli import main; main()", *migrate_cmd[1:]],
                    "migrate", "migrate.log")
    assert migrate.wait(timeout=120) == 0, (image["logs"] / "migrate.log").read_text(errors="replace")[-3000:]
    port = free_port()
    cmd = [part.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for part in image["stage"]["cmd"]]
    assert cmd[0] == "gunicorn"
    api = start(image, [image["python"], "-m", *cmd], "api", "api.log")
    worker_cmd = compose_service("worker")["command"]
    assert worker_cmd[0] == "zhangban"
    worker = start(image, [image["python"], "-c", "from api.cli import main; main()", *worker_cmd[1:]],
                   "worker", "worker.log")
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while get(f"{base}/readyz") != 200 and api.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        api_log = (image["logs"] / "api.log").read_text(errors="replace")
        assert get(f"{base}/readyz") == 200, api_log[-3000:]
        assert get(f"{base}/designer/") == 200
        assert get(f"{base}/m/") == 200
        time.sleep(3)                                          # a few rounds of the worker
        worker_log = (image["logs"] / "worker.log").read_text(errors="replace")
        assert worker.poll() is None, worker_log[-3000:]
        assert "Traceback" not in worker_log, worker_log[-3000:]
        assert any(image["volume"].iterdir())                   # the data dir is where the spool went
    finally:
        worker_code, api_code = stop(worker), stop(api)
    assert worker_code == 0, (image["logs"] / "worker.log").read_text(errors="replace")[-3000:]
    assert api_code == 0
