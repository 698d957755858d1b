"""SQLite-flavoured SQL, run on Postgres: the stores' call style (`?` placeholders, `INSERT OR IGNORE`,
`INSERT OR REPLACE`, `IFNULL`, `AUTOINCREMENT` in DDL) translated once per statement text.

SQLite gets the text unchanged. Only what lies outside string literals, quoted identifiers and comments is
rewritten, so a `?` or a `%` inside a literal stays what it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

_INSERT_OR = re.compile(r"^\s*(?:INSERT\s+OR\s+(IGNORE|REPLACE)|(REPLACE))\s+INTO\s+", re.IGNORECASE)
_TABLE_COLUMNS = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_IFNULL = re.compile(r"\bIFNULL\s*\(", re.IGNORECASE)
_AUTOINCREMENT = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE)
_BLOB = re.compile(r"\bBLOB\b", re.IGNORECASE)


def _segments(sql: str) -> Iterator[tuple[bool, str]]:
    """(is_code, text) pieces: code outside literals, identifiers in double quotes and comments."""
    i, start, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            if i > start:
                yield True, sql[start:i]
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # a doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            yield False, sql[i:j + 1]
            i = start = j + 1
            continue
        if sql.startswith("--", i) or sql.startswith("/*", i):
            if i > start:
                yield True, sql[start:i]
            end = sql.find("\n", i) if sql.startswith("--", i) else sql.find("*/", i)
            stop = n if end < 0 else (end if sql.startswith("--", i) else end + 2)
            yield False, sql[i:stop]
            i = start = stop
            continue
        i += 1
    if start < n:
        yield True, sql[start:]


def _code_only(sql: str, fn: Callable[[str], str]) -> str:
    return "".join(fn(text) if code else text for code, text in _segments(sql))


def placeholders(sql: str, escape_percent: bool) -> str:
    """`?` -> `%s` for psycopg; a literal `%` is doubled when parameters are bound (psycopg would read it)."""
    def fix(text: str) -> str:
        if escape_percent:
            text = text.replace("%", "%%")
        return text.replace("?", "%s")
    if not escape_percent:
        return _code_only(sql, lambda t: t.replace("?", "%s"))
    # literals are passed through psycopg's formatting too when parameters are bound: escape them as well
    return "".join(fix(text) if code else text.replace("%", "%%") for code, text in _segments(sql))


def _append_conflict(sql: str, clause: str) -> str:
    """Put `clause` after the VALUES/SELECT part, before a RETURNING and a trailing semicolon."""
    body = sql.rstrip().rstrip(";").rstrip()
    code_pos = 0
    for code, text in _segments(body):
        if code:
            match = _RETURNING.search(text)
            if match:
                at = code_pos + match.start()
                return f"{body[:at].rstrip()} {clause} {body[at:]}"
        code_pos += len(text)
    return f"{body} {clause}"


def upsert_for_postgres(sql: str, primary_key: Callable[[str], list[str]]) -> str:
    """INSERT OR IGNORE -> ON CONFLICT DO NOTHING; INSERT OR REPLACE / REPLACE -> an upsert on the primary key.

    SQLite's REPLACE deletes the old row and inserts the new one; here the columns the statement names are
    overwritten and the others keep their values (the stores name every column they mean to set)."""
    match = _INSERT_OR.match(sql)
    if not match:
        return sql
    rest = sql[match.end():]
    plain = "INSERT INTO " + rest
    if (match.group(1) or "").upper() == "IGNORE":
        return _append_conflict(plain, "ON CONFLICT DO NOTHING")
    target = _TABLE_COLUMNS.match(rest)
    if not target:
        raise ValueError("INSERT OR REPLACE needs an explicit column list to run on Postgres")
    table = target.group(1)
    columns = [c.strip().strip('"') for c in target.group(2).split(",") if c.strip()]
    keys = primary_key(table)
    if not keys:
        raise ValueError(f"INSERT OR REPLACE into {table}: the table has no primary key to upsert on")
    updates = [c for c in columns if c not in keys]
    conflict = f"ON CONFLICT ({', '.join(keys)}) "
    conflict += ("DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)) if updates else "DO NOTHING"
    return _append_conflict(plain, conflict)


def ddl_for_postgres(sql: str) -> str:
    """SQLite column types that Postgres spells differently (additive DDL in the stores' SCHEMA strings)."""
    def fix(text: str) -> str:
        return _BLOB.sub("BYTEA", _AUTOINCREMENT.sub("BIGSERIAL PRIMARY KEY", text))
    return _code_only(sql, fix)


@lru_cache(maxsize=4096)
def _translate(sql: str, has_params: bool, keys: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    known = dict(keys)
    out = upsert_for_postgres(sql, lambda t: list(known.get(t.lower(), ())))
    out = _code_only(out, lambda t: _IFNULL.sub("COALESCE(", t))
    return placeholders(out, escape_percent=has_params)


def replace_target(sql: str) -> str | None:
    """The table an INSERT OR REPLACE / REPLACE writes to (its primary key is needed to translate it)."""
    match = _INSERT_OR.match(sql)
    if not match or (match.group(1) or "").upper() == "IGNORE":
        return None
    target = _TABLE_COLUMNS.match(sql[match.end():])
    return target.group(1).lower() if target else None


def to_postgres(sql: str, has_params: bool, primary_keys: dict[str, tuple[str, ...]] | None = None) -> str:
    keys = tuple(sorted((primary_keys or {}).items()))
    return _translate(sql, has_params, keys)


def split_script(sql: str) -> list[str]:
    """A DDL script as single statements (semicolons inside literals or comments do not split)."""
    statements, current = [], []
    for code, text in _segments(sql):
        if not code:
            if not text.startswith(("--", "/*")):
                current.append(text)
            continue
        parts = text.split(";")
        for part in parts[:-1]:
            current.append(part)
            statements.append("".join(current).strip())
            current = []
        current.append(parts[-1])
    statements.append("".join(current).strip())
    return [s for s in statements if s]
