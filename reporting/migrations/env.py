"""Alembic environment. Run programmatically by `Ledger.migrate()`, which hands over its own connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from reporting.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    # the `alembic` command line: a URL from `-x url=...` or sqlalchemy.url
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.begin() as conn:
        _run_with(conn)


def _run_with(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        version_table="ledger_alembic_version",  # the ledger may share a database with other components
    )
    with context.begin_transaction():
        context.run_migrations()


run()
