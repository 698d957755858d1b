"""Alembic environment of the operational store. Run by `connectors.local.engine.migrate`, which hands over its
own connection; `alembic -c <ini> -x url=... upgrade head` works as well."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
VERSION_TABLE = "local_alembic_version"  # as in connectors/local/engine.py


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.begin() as conn:
        _run_with(conn)


def _run_with(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=None,  # migrations are written by hand: each one is the record of a schema change
        render_as_batch=True,  # SQLite alters tables by copying them
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
