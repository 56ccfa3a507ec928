"""The repair tools an operator runs on a live system (README, "The approver inbox" and "Ratings and statistics"):
`rebuild-projections` leaves alone what may still be in flight; `stats rebuild` refuses while cases change."""
from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext


@click.command("rebuild-projections")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="report the differences without repairing them")
@click.option("--min-age-seconds", type=click.IntRange(min=0), default=300, show_default=True,
              help="leave younger instances and taken rows alone (maybe in flight); 0 only with traffic stopped")
def rebuild_projections(dry_run, min_age_seconds):
    """Rebuild the approver inbox (human_tasks) and applications' steps from the instances; report differences.
    Safe while the service runs."""
    from datetime import timedelta

    from workflows.cases.tasks.rebuild import rebuild

    report = rebuild(dry_run=dry_run, min_age=timedelta(seconds=min_age_seconds))
    for name, value in vars(report).items():
        click.echo(f"{name}: {value}")
    click.echo(f"{'found' if dry_run else 'repaired'} {report.differences} difference(s)")


@click.group("stats", cls=AppGroup)
def stats_group():
    """The statistics' rollups (workflows/cases/stats)."""


@stats_group.command("check")
def stats_check():
    """Recount the rollups from the applications and name those that differ (exit 1 if any). Cases not yet
    added (the worker adds them each round) are added first."""
    from workflows.cases.stats import rollups

    rollups.flush_all()
    found = rollups.differences()
    for item in found[:20]:
        click.echo(f"{item['id']}: kept {item['kept']} recount {item['recount']}")
    click.echo(f"{len(found)} rollup(s) differ from a recount")
    if found:
        raise SystemExit(1)


@stats_group.command("rebuild")
@click.option("--quiet-seconds", type=click.IntRange(min=0), default=300, show_default=True,
              help="refuse if any case or rating changed this recently (0: the service is stopped, go ahead)")
def stats_rebuild(quiet_seconds):
    """Replace the rollups with a recount of every application. It needs the service stopped: it refuses while
    cases or ratings change."""
    from datetime import timedelta

    from workflows.cases.stats import rollups

    busy = rollups.recent_activity(timedelta(seconds=quiet_seconds)) if quiet_seconds else None
    if busy:
        click.echo(f"refused: {busy}; stop the API and the workers first (a case moving during the rebuild would be "
                   f"counted twice or not at all)", err=True)
        raise SystemExit(1)
    click.echo(f"wrote {rollups.rebuild()} rollup document(s)")
