"""The `zhangban` command: serve, create-admin, seed-demo, audit verify, rebuild-projections, calendar, …"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import click
from flask.cli import FlaskGroup

from api.migrate_command import migrate, migrate_command
from api.repair_commands import rebuild_projections, stats_group
from core.embedded import EmbeddedServerError
from core.settings import ConfigError


def _create_app():
    from api.app import create_app

    return create_app()


def main():
    try:
        cli(prog_name="zhangban")
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except EmbeddedServerError as exc:
        click.echo(f"embedded database: {exc}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def cli():
    """Zhangban (掌办): an open backend for government services in your pocket."""


cli.add_command(migrate_command)       # api/migrations.py: once per deploy, before the code serves
cli.add_command(rebuild_projections)   # repair tools, safe on a live system: api/repair_commands.py
cli.add_command(stats_group)

WORKER_GRACE_SECONDS = 10     # what `serve` gives its worker to finish the item in hand (gunicorn's graceful time)


@cli.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Request threads per worker: /healthz answers while other threads run the engine.")
@click.option("--worker/--no-worker", "with_worker", default=True, show_default=True,
              help="Run one background worker beside the API (timers, notifications, result documents).")
def serve(host, port, workers, threads, with_worker):
    """Run the API under gunicorn, and a background worker beside it; with no MongoDB URI, the embedded server
    runs beside them."""
    from core import db
    from core.settings import ensure_keys, from_env

    settings = ensure_keys(from_env())
    env = dict(os.environ)
    # The workers run in the project root: a relative data dir must still name this one (its keys, its objects).
    env["ZHANGBAN_DATA_DIR"] = str(settings.data_dir.resolve())
    if settings.embedded_mongodb:
        env["ZHANGBAN_MONGODB_URI"] = db.resolve_uri(settings)   # we own it; the workers share it
        if not db.owns_embedded_server():
            # Borrowing another process's server would break the moment that process stops.
            raise EmbeddedServerError(f"another process runs the embedded database of {settings.data_dir}; stop "
                                      f"it first, or give this server its own ZHANGBAN_DATA_DIR")
        migrate(settings, echo=lambda line: None)   # its own database: migrated before its processes start
    # the workers' metrics add up in /metrics (core/metrics.py); a directory of this server's own
    own_metrics = not env.get("PROMETHEUS_MULTIPROC_DIR")
    if own_metrics:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(settings.data_dir.resolve() / "metrics" / str(os.getpid()))
    gunicorn = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
                "--worker-class", "gthread", "--threads", str(threads),
                # No control socket: gunicorn's default path is one per user, shared by every instance on the machine.
                "--graceful-timeout", "10", "--no-control-socket",
                # its limits, and its own refusals (414, 431, 400) in the one error shape
                "--config", "python:api.gunicorn_conf", "wsgi:app"]
    process = subprocess.Popen(gunicorn, env=env, cwd=_project_root())
    # one worker, so that timers fire and result documents are made on a single machine too (production runs
    # its workers as their own services: docker-compose.yml)
    worker = subprocess.Popen([sys.executable, "-m", "api", "worker"], env=env, cwd=_project_root()) \
        if with_worker else None
    children = [p for p in (process, worker) if p]

    def stop_children(signum, frame):
        # SIGTERM (kill, systemd, docker stop) or a closed terminal: stop gunicorn and the worker and wait for them
        # below, so the exit handlers then stop the embedded server. Dying at once would leave them running.
        for child in children:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_children)
    signal.signal(signal.SIGHUP, stop_children)
    # Ctrl-C (SIGINT) stops it even when it was started where SIGINT is ignored: a background job of a script
    # inherits "ignore", and Python then leaves it so (measured: a test's SIGINT then did nothing)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    base = f"http://{host}:{port}"
    click.echo(f"Zhangban is starting on {base}\n  API docs:  {base}/api/docs\n  OpenAPI:   {base}/api/openapi.json"
               f"\n  Ready:     {base}/readyz\nPress Ctrl-C to stop.")
    try:
        process.wait()
    except KeyboardInterrupt:
        stop_children(signal.SIGINT, None)      # both at once: their graceful stops overlap
        process.wait()
    if worker is not None:    # gunicorn has gone (stopped, or failed to start): the worker goes with it
        worker.send_signal(signal.SIGTERM)
        try:
            # as long as gunicorn's graceful timeout; then killed, which loses nothing (its claims are leases)
            worker.wait(timeout=WORKER_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    if own_metrics:
        shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    # Leaving the command stops the embedded MongoDB server (registered at start) after gunicorn is gone.
    sys.exit(0 if process.returncode in (0, -signal.SIGTERM, -signal.SIGINT) else process.returncode)


def _project_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@cli.command("create-admin")
@click.option("--username", required=True)
@click.option("--password", envvar="ZHANGBAN_ADMIN_PASSWORD", prompt=True, hide_input=True,
              confirmation_prompt=True, help="Read from ZHANGBAN_ADMIN_PASSWORD, else prompted.")
def create_admin(username, password):
    """Create an administrator account."""
    from api.identity import admin
    from core.errors import DomainError

    if len(password) < 10:
        raise click.BadParameter("at least 10 characters", param_hint="password")
    try:
        user = admin.create_staff(None, username=username, password=password, grants=[{"role": "admin"}])
    except DomainError as exc:
        raise click.ClickException(exc.message_key) from None
    click.echo(f"created admin {user.username} ({user.id})")


@cli.command("bundles-resume")
@click.option("--batch", default=500, show_default=True, help="at most this many open cases")
def bundles_resume(batch):
    """Advance open 一件事 bundle cases a crash left waiting (safe to run any time)."""
    from workflows.cases.bundles.cases import resume_open

    result = resume_open(batch)
    click.echo(f"open: {result['open']}, advanced: {result['advanced']}")


@cli.command("seed-demo")
def seed_demo():
    """Load the demo departments, accounts and the 居住证申领 service (safe to run again)."""
    from api import demo, demo_policy, demo_service

    for line in demo.seed():
        click.echo(line)
    for line in demo_service.seed(demo.DEMO_PASSWORD):
        click.echo(line)
    for line in demo_policy.seed():
        click.echo(line)
    from api import demo_bundle     # 新生儿出生一件事 and a 秒批 service (issue 12)

    for line in demo_bundle.seed(demo.DEMO_PASSWORD):
        click.echo(line)


@cli.group("audit")
def audit_group():
    """The tamper-evident audit log."""


@audit_group.command("verify")
def audit_verify():
    """Seal waiting records into the chain, then check the whole chain; name the first broken link."""
    from core import audit

    sealed = audit.seal()
    result = audit.verify()
    if result.ok:
        waiting = f"; {result.pending} not yet sealed" if result.pending else ""
        click.echo(f"audit log intact: {result.checked} records ({sealed} sealed just now){waiting}")
        return
    click.echo(f"audit log BROKEN at record {result.broken_seq} (id {result.broken_id}): {result.reason}; "
               f"{result.checked} records before it are intact", err=True)
    sys.exit(1)


@cli.group("storage")
def storage_group():
    """Object storage (attachments)."""


@storage_group.command("gc")
@click.option("--grace-seconds", type=click.IntRange(min=0), default=None,
              help="Leave orphans younger than this (default: ZHANGBAN_STORAGE_GC_GRACE_SECONDS).")
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
def storage_gc(grace_seconds, dry_run):
    """Remove stored objects that no attachment record names (left by a crash mid-upload)."""
    from api.runtime import runtime
    from storage import service

    rt = runtime()
    grace = rt.settings.storage_gc_grace_seconds if grace_seconds is None else grace_seconds
    report = service.gc(rt.store, grace_seconds=grace, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{rt.store.name}: scanned {report.scanned} objects, {verb} {report.removed} orphans, "
               f"left {report.young} younger than {grace} s")


@cli.group("calendar")
def calendar_group():
    """The working-day calendar: holidays and 调休 working weekends, one JSON file per year."""


@calendar_group.command("import")
@click.argument("file", type=click.File("rb"))
def calendar_import(file):
    """Store (or replace) a year from FILE (format: README, "The clock"); nothing is stored if a date is wrong.
    Then moves the open cases' deadlines and unsent reminders that the new year changes, and says how many."""
    import json

    from api.runtime import runtime
    from core.actor import Actor
    from core.errors import Invalid
    from workflows.cases.clock import calendar

    runtime()
    try:
        doc = json.loads(file.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        click.echo(f"{file.name}: not a JSON file ({exc})", err=True)
        sys.exit(1)
    try:
        done = calendar.import_year(Actor.system(), doc)
    except Invalid as exc:
        for item in exc.errors:
            click.echo(f"{file.name}{item['path']}: {item['message_en']} / {item['message_zh']}", err=True)
        sys.exit(1)
    stored = done.year
    kind = "provisional" if stored.provisional else "official"
    click.echo(f"calendar {stored.id}: {len(stored.holidays)} holidays, {len(stored.workdays)} working weekend days "
               f"({kind}); moved the deadline or reminder of {done.moved} open cases")


@calendar_group.command("show")
@click.argument("year", type=click.IntRange(2000, 2200))
def calendar_show(year):
    """Where a year's calendar comes from (database, shipped file or weekends only), whether it is official, and
    its days."""
    from api.runtime import runtime
    from core import workdays

    runtime()
    cal = workdays.year_of(year)
    click.echo(f"calendar {year}: {cal.origin}, {'official' if cal.official else 'not official'}"
               + (f" ({cal.source})" if cal.source else ""))
    click.echo("holidays: " + " ".join(d.isoformat() for d in sorted(cal.holidays)))
    click.echo("working weekend days: " + " ".join(d.isoformat() for d in sorted(cal.workdays)))


@cli.group("workflows")
def workflows_group():
    """Process instances: timers and designers' test runs."""


@workflows_group.command("tick")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def workflows_tick(limit):
    """Fire due timers (claimed with a lease, so several can run) and purge test runs older than a day."""
    from api.runtime import runtime
    from core import audit
    from workflows.bpmn import test_runs
    from workflows.cases.applications import case_state
    from workflows.cases.tasks import incidents

    runtime()
    audit.seal()
    run = case_state.fire_due_timers(limit=limit, on_incident=incidents.opened)
    purged = test_runs.purge_test_runs()
    click.echo(f"fired timers on {run.fired} instances ({run.failed} failed, now incidents; {run.skipped} changed "
               f"meanwhile, skipped); purged {purged} test runs")


@cli.command("worker")
@click.option("--once", is_flag=True, help="Run one round and exit (what `workflows tick` does, and more).")
def worker(once):
    """Run the background worker until SIGTERM or Ctrl-C: fire due BPMN timers, send reminders and escalations,
    deliver notifications (WeChat subscription messages), purge old test runs. Run as many as you like."""
    from api.identity.wechat import SubscribeSender
    from api.runtime import runtime
    from workflows.cases.notify import delivery
    from workflows.cases.worker import Worker

    rt = runtime()
    settings = rt.settings
    try:
        delivery.check_templates(settings.wechat_templates)
    except ValueError as exc:
        raise ConfigError(f"ZHANGBAN_WECHAT_TEMPLATES: {exc}") from None
    sender = SubscribeSender(rt.wechat) if settings.wechat_appid and settings.wechat_secret else None
    loop = Worker(sender, policy=delivery.Policy.from_settings(settings), batch=settings.worker_batch,
                  idle_seconds=settings.worker_idle_seconds, scheduled=scheduled_jobs(rt.store))
    # The first signal lets the current item finish, then the loop ends and the command exits 0.
    previous = {sig: signal.signal(sig, loop.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"worker {os.getpid()} started (lease {settings.worker_lease_seconds} s, idle "
               f"{settings.worker_idle_seconds} s, WeChat {'on' if sender else 'off'})", err=True)
    try:
        rounds = loop.run(max_rounds=1 if once else None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"worker {os.getpid()} stopped after {rounds} rounds", err=True)


def scheduled_jobs(store) -> list:
    """The worker's periodic jobs of other rooms: approved cases' result documents and the statistics (each
    round), and 免申即享 policy runs."""
    from datetime import timedelta

    from workflows.cases.materials import results
    from workflows.cases.policies import evaluate
    from workflows.cases.ratings import service as ratings
    from workflows.cases.stats import rollups

    return [("results", lambda now: results.issue_due(store, now=now), timedelta(0)),
            ("rating_follow_ups", lambda now: ratings.follow_ups_due(now), timedelta(minutes=1)),
            ("stats", lambda now: rollups.flush_due(now), timedelta(0)),
            ("policies", lambda now: vars(evaluate.evaluate(now=now)), evaluate.EVERY)]


@cli.group("policies")
def policies_group():
    """免申即享: benefits granted without an application."""


@policies_group.command("evaluate")
@click.option("--policy", default=None, help="only this policy's code")
@click.option("--batch", default=200, show_default=True, help="residents per batch")
def policies_evaluate(policy, batch):
    """Decide every resident by the current policies; grant the eligible once per period and notify them."""
    from workflows.cases.policies import evaluate

    report = evaluate.evaluate(batch=batch, policy_code=policy)
    for code, counts in report.by_policy.items():
        click.echo(f"{code}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    click.echo(f"{report.policies} policies, {report.residents} residents looked at, {report.granted} granted "
               f"({report.already} already granted this period, {report.failed} not decided)")
