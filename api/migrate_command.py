"""`zhangban migrate` (api/migrations.py says what it does), and the same for `zhangban serve`'s own database."""
from __future__ import annotations

import click


def migrate(settings, echo=click.echo) -> dict:
    from api import migrations
    from core import db

    db.connect(settings)
    return migrations.run(echo=echo)


@click.command("migrate", context_settings={"help_option_names": ["-h", "--help"]})
def migrate_command():
    """Apply the database's migrations and create its indexes (once per deploy, before the new code serves)."""
    from core.settings import ensure_keys, from_env

    result = migrate(ensure_keys(from_env()))
    click.echo(f"database at migration {result['latest']}: {len(result['applied'])} applied now, "
               f"indexes of {result['collections']} collections in place")
