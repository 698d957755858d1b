"""Reporting: the append-only case ledger, the recovery metrics, the dashboard, the report CLI and experiments.

Deliberately empty: `reporting.experiments` is imported by workflows through the sandbox passthrough, and
importing this package must not pull SQLAlchemy or FastAPI in with it.
"""
