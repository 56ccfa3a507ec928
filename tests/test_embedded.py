"""Embedded defaults: the SecantusDB child process, found by a second process, surviving restarts.

These tests run the real `zhangban` command (python -m api) in subprocesses over a temporary data dir.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.embedded import EmbeddedMongo, EmbeddedServerError, free_port, ping


def _env(data_dir, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHANGBAN_")}
    return {**env, "ZHANGBAN_DATA_DIR": str(data_dir), "ZHANGBAN_LOG_LEVEL": "WARNING", **extra}


def _zhangban(data_dir, *args, **extra):
    return subprocess.run([sys.executable, "-m", "api", *args], env=_env(data_dir, **extra), capture_output=True,
                          text=True, timeout=240)


def _get(url, headers=None, data=None):
    req = urllib.request.Request(url, headers={"Content-Type": "application/json", **(headers or {})},
                                 data=json.dumps(data).encode() if data is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_a_second_process_finds_the_running_server(tmp_path):
    owner = EmbeddedMongo(tmp_path)
    uri = owner.ensure()
    try:
        other = EmbeddedMongo(tmp_path)
        assert other.ensure() == uri and other.server is None   # used, not started again
    finally:
        owner.stop()
    assert not ping(uri)


def test_a_dir_locked_by_a_silent_owner_gives_a_clear_message(tmp_path):
    import fcntl

    (tmp_path / "mongo.json").write_text(json.dumps({"pid": os.getpid(), "port": free_port(), "owner_pid": 4242}))
    with open(tmp_path / "mongo.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code = ("import sys; from core.embedded import EmbeddedMongo\n"
                f"EmbeddedMongo({str(tmp_path)!r}).ensure(timeout=1)")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "is in use by process 4242" in r.stderr


# Five cold starts of the CLI, two of them publishing the whole demo on the slow test server: on a busy machine
# that outlasts the suite's 120 s per test (seen at load ~40); this test is about what the commands do, not speed.
@pytest.mark.timeout(420)
def test_cli_commands_work_alone_and_beside_a_running_server(tmp_path):
    alone = _zhangban(tmp_path, "create-admin", "--username", "boss", ZHANGBAN_ADMIN_PASSWORD="a long password 1")
    assert alone.returncode == 0 and "created admin boss" in alone.stdout, alone.stderr
    assert not (tmp_path / "mongo.json").exists()   # it stopped the server it started

    owner = EmbeddedMongo(tmp_path)
    owner.ensure()
    try:
        seeded = _zhangban(tmp_path, "seed-demo")
        assert seeded.returncode == 0 and "demo-approver-1" in seeded.stdout, seeded.stderr
        again = _zhangban(tmp_path, "seed-demo")
        assert again.returncode == 0 and again.stdout.strip() == ""   # nothing new the second time
        verify = _zhangban(tmp_path, "audit", "verify")
        assert verify.returncode == 0 and "intact" in verify.stdout
        dup = _zhangban(tmp_path, "create-admin", "--username", "boss", ZHANGBAN_ADMIN_PASSWORD="a long password 1")
        assert dup.returncode != 0 and "username_taken" in dup.stderr
    finally:
        owner.stop()


def _serve(data_dir, port, *, sigint_ignored=False):
    """`serve` on the port; `sigint_ignored`: started as a script's background job is, SIGINT set to ignore."""
    command = [sys.executable, "-m", "api", "serve", "--port", str(port), "--workers", "1"]
    if sigint_ignored:
        command = ["bash", "-c", 'trap "" INT; exec "$@"', "serve", *command]
    return subprocess.Popen(command, env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"not ready within {timeout} s")


def _stop(process):
    process.send_signal(signal.SIGINT)   # what Ctrl-C sends
    process.wait(60)


def _worker_children(pid: int) -> list[int]:
    """The `zhangban worker` processes `serve` started beside gunicorn."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"api\x00worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except FileNotFoundError:
            pass
    return found


def test_serve_is_ready_and_data_survives_a_restart(tmp_path):
    port = free_port()
    assert _zhangban(tmp_path, "create-admin", "--username", "boss",
                     ZHANGBAN_ADMIN_PASSWORD="a long password 1").returncode == 0
    server = _serve(tmp_path, port)
    try:
        _wait_ready(port)
        [worker] = _worker_children(server.pid)       # one background worker runs beside the API
        _, tokens = _get(f"http://127.0.0.1:{port}/api/v1/auth/login",
                         data={"username": "boss", "password": "a long password 1"})
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        status, _ = _get(f"http://127.0.0.1:{port}/api/v1/users", auth,
                         {"username": "survivor", "password": "a long password 2"})
        assert status == 201
    finally:
        _stop(server)
    assert server.returncode == 0
    assert not (tmp_path / "mongo.json").exists()   # the embedded server stopped with it
    assert not Path(f"/proc/{worker}").exists()     # and the worker

    server = _serve(tmp_path, port, sigint_ignored=True)     # Ctrl-C must stop it all the same
    try:
        _wait_ready(port)
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/users?q=survivor", auth)   # same keys: token valid
        assert status == 200 and [u["username"] for u in body["items"]] == ["survivor"]
    finally:
        _stop(server)


def test_a_stale_state_file_never_signals_an_unrelated_process(tmp_path):
    # After a crash or a reboot, mongo.json can name a pid that now belongs to something else entirely.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(40)"])
    try:
        (tmp_path / "mongo.json").write_text(json.dumps({"pid": bystander.pid, "port": free_port(),
                                                         "owner_pid": 999999}))
        owner = EmbeddedMongo(tmp_path)
        uri = owner.ensure()
        try:
            assert ping(uri)
            assert bystander.poll() is None, "the bystander was killed"
        finally:
            owner.stop()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_server_left_behind_by_a_dead_owner_is_stopped_before_a_new_one_starts(tmp_path):
    from core.embedded import start_server

    orphan = start_server(tmp_path / "mongo", tmp_path / "mongo.log")   # as a killed owner would leave it
    try:
        (tmp_path / "mongo.json").write_text(json.dumps({"pid": orphan.process.pid, "port": orphan.port,
                                                         "owner_pid": 999999}))
        owner = EmbeddedMongo(tmp_path)
        uri = owner.ensure()
        try:
            assert orphan.process.wait(5) is not None and uri != orphan.uri and ping(uri)
        finally:
            owner.stop()
    finally:
        orphan.stop()


def test_a_left_behind_server_that_does_not_stop_on_sigterm_is_killed_after_the_grace(tmp_path, monkeypatch):
    """A server still closing its files long after SIGTERM (a loaded machine's busy disk) must not keep the new
    one from starting: after the grace it is killed. The stand-in holds WiredTiger's lock and ignores SIGTERM."""
    storage = tmp_path / "mongo"
    storage.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "lock = open(sys.argv[2] + '/WiredTiger.lock', 'w')\n"
        "fcntl.lockf(lock, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(40)\n"), "--storage-path", str(storage)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"held\n"
        (tmp_path / "mongo.json").write_text(json.dumps({"pid": holder.pid, "port": free_port(), "owner_pid": 999999}))
        monkeypatch.setattr(EmbeddedMongo, "stop_grace", 1.0)
        owner = EmbeddedMongo(tmp_path)
        started = time.monotonic()
        uri = owner.ensure()
        try:
            assert ping(uri) and holder.wait(5) == -signal.SIGKILL     # killed, not waited on for ever
            assert time.monotonic() - started < 30
        finally:
            owner.stop()
    finally:
        holder.kill()
        holder.wait()


def _serve_in(cwd, data_dir, port, log):
    # A session of its own, so a test can always end gunicorn too (killpg), whatever `serve` did; output to a
    # file, since a pipe would stay open as long as any child that inherited it.
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port), "--workers", "1"],
                                env=_env(data_dir), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _end_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(30)


def test_sigterm_stops_serve_gunicorn_and_the_embedded_server(tmp_path):
    import socket

    port = free_port()
    server = _serve_in(None, tmp_path, port, tmp_path / "serve.log")
    try:
        _wait_ready(port)
        mongo_pid = json.loads((tmp_path / "mongo.json").read_text())["pid"]
        server.send_signal(signal.SIGTERM)   # what systemd, docker stop or `kill` send
        assert server.wait(60) == 0, (tmp_path / "serve.log").read_text()
        with pytest.raises(OSError):   # gunicorn is gone too: nothing answers on the port any more
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        _end_group(server)
    from core.embedded import _pid_alive
    assert not (tmp_path / "mongo.json").exists() and not _pid_alive(mongo_pid)


def test_serve_started_from_another_directory_uses_one_data_dir(tmp_path):
    import shutil
    import uuid
    from pathlib import Path

    # A relative ZHANGBAN_DATA_DIR means the same directory to `serve`, its gunicorn workers and other commands
    # started beside it: keys generated by one must decrypt what another wrote.
    elsewhere, relative = tmp_path / "elsewhere", f"zb-var-{uuid.uuid4().hex[:8]}"
    elsewhere.mkdir()
    project_copy = Path(__file__).resolve().parent.parent / relative
    seeded = subprocess.run([sys.executable, "-m", "api", "seed-demo"], env=_env(relative), cwd=elsewhere,
                            capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    port = free_port()
    server = _serve_in(elsewhere, relative, port, tmp_path / "serve.log")
    try:
        _wait_ready(port)
        _, tokens = _get(f"http://127.0.0.1:{port}/api/v1/auth/login",
                         data={"username": "demo-admin", "password": "zhangban-demo-2026"})
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/users?kind=resident",
                            {"Authorization": f"Bearer {tokens['access_token']}"})
        assert status == 200, body
        [chen] = [u for u in body["items"] if u["display_name"].endswith("陈静")]   # (the demo has other residents)
        assert chen["phone"] == "13800138000", body       # decrypted with the keys seed-demo wrote
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        finally:
            _end_group(server)
            shutil.rmtree(project_copy, ignore_errors=True)
    assert not project_copy.exists()


def test_serve_refuses_to_borrow_another_processs_database(tmp_path):
    owner = EmbeddedMongo(tmp_path)
    owner.ensure()
    try:
        r = subprocess.run([sys.executable, "-m", "api", "serve", "--port", str(free_port())], env=_env(tmp_path),
                           capture_output=True, text=True, timeout=60)
    finally:
        owner.stop()
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("embedded database: another process runs")
