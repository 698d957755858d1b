"""Local accounts, API tokens and browser sessions in the local store.

Passwords are hashed with argon2id (memory-hard; argon2-cffi's RFC 9106 low-memory profile). Tokens and session
ids are 256-bit random values stored only as SHA-256 digests: a leaked database holds nothing to sign in with.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from connectors.local.db import LocalDb
from workers.api.auth.principal import RANK, ROLES, Principal, Role, parse_programs

_HASHER = PasswordHasher()
# verified when the name is unknown, so a wrong name costs as long as a wrong password (no user enumeration)
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user command that cannot be done (duplicate name, unknown user, bad role): a message, not a traceback."""


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    role: Role
    programs: set[str]
    disabled: bool
    created_at: str


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _programs_text(programs: set[str]) -> str:
    return "|".join(sorted(programs))


def _role(value: str) -> Role:
    if value not in RANK:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    return value  # type: ignore[return-value]


def _now() -> datetime:
    return datetime.now(UTC)


class AuthStore:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    # ------------------------------------------------------------------ users
    def add_user(self, username: str, password: str, role: str, programs: str = "*") -> User:
        username = username.strip()
        if not username or len(username) > 254:
            raise UserError("a username is 1 to 254 characters")
        if len(password) < 12:
            raise UserError("a password is at least 12 characters")
        user = User(f"u-{secrets.token_hex(8)}", username, _role(role), parse_programs(programs), False,
                    _now().isoformat())
        with self.db.connect(immediate=True) as conn:
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise UserError("that username is taken")
            conn.execute(
                "INSERT INTO users (user_id, username, password_hash, role, programs, disabled, created_at) "
                "VALUES (?, ?, ?, ?, ?, 0, ?)",
                (user.user_id, username, _HASHER.hash(password), user.role, _programs_text(user.programs),
                 user.created_at))
        return user

    def users(self) -> list[User]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT * FROM users ORDER BY created_at").fetchall()
        return [User(r["user_id"], r["username"], _role(r["role"]), parse_programs(r["programs"]),
                     bool(r["disabled"]), r["created_at"]) for r in rows]

    def user(self, name_or_id: str) -> User | None:
        return next((u for u in self.users() if name_or_id in (u.username, u.user_id)), None)

    def set_disabled(self, name_or_id: str, disabled: bool = True) -> User:
        user = self.user(name_or_id)
        if user is None:
            raise UserError("no such user")
        with self.db.connect(immediate=True) as conn:
            conn.execute("UPDATE users SET disabled = ? WHERE user_id = ?", (int(disabled), user.user_id))
            if disabled:  # signed out everywhere, and every token of theirs stops working
                conn.execute("UPDATE sessions SET revoked = 1 WHERE user_id = ?", (user.user_id,))
                conn.execute("UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", (user.user_id,))
        return self.user(user.user_id) or user

    def check_password(self, username: str, password: str) -> tuple[User | None, str]:
        """The user when the password is right and the account enabled; else None and a reason for the audit."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM users WHERE username = ?", (username.strip(),)).fetchone()
        try:
            _HASHER.verify(row["password_hash"] if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None, "bad_password" if row else "unknown_user"
        if row is None:
            return None, "unknown_user"
        if row["disabled"]:
            return None, "disabled"
        return self.user(row["user_id"]), "ok"

    # ------------------------------------------------------------------ API tokens
    def issue_token(self, name_or_id: str, role: str | None = None, programs: str | None = None,
                    days: int | None = None) -> str:
        """A bearer token for a user, scoped at most to the user's own role and programs. Shown once."""
        user = self.user(name_or_id)
        if user is None or user.disabled:
            raise UserError("no such enabled user")
        token_role = _role(role or user.role)
        if RANK[token_role] > RANK[user.role]:
            raise UserError("a token cannot have a higher role than its user")
        wanted = parse_programs(programs) if programs else set(user.programs)
        if "*" not in user.programs and not wanted <= user.programs:
            raise UserError("a token cannot reach programs its user cannot")
        token = "nsk_" + secrets.token_urlsafe(32)
        expires = (_now() + timedelta(days=days)).isoformat() if days else None
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO api_tokens (token_hash, user_id, role, programs, created_at, expires_at, revoked) "
                "VALUES (?, ?, ?, ?, ?, ?, 0)",
                (digest(token), user.user_id, token_role, _programs_text(wanted), _now().isoformat(), expires))
        return token

    def token_principal(self, token: str) -> Principal | None:
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT t.role, t.programs, t.expires_at, t.user_id FROM api_tokens t JOIN users u "
                "ON u.user_id = t.user_id WHERE t.token_hash = ? AND t.revoked = 0 AND u.disabled = 0",
                (digest(token),)).fetchone()
        if row is None or (row["expires_at"] and row["expires_at"] <= _now().isoformat()):
            return None
        return Principal(row["user_id"], _role(row["role"]), parse_programs(row["programs"]))

    # ------------------------------------------------------------------ sessions
    def open_session(self, user_id: str, role: Role, programs: set[str], ttl: timedelta) -> tuple[str, str]:
        """A new session: (cookie value, CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO sessions (session_hash, user_id, role, programs, csrf, created_at, expires_at, revoked) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (digest(sid), user_id, role, _programs_text(programs), csrf, now.isoformat(),
                 (now + ttl).isoformat()))
        return sid, csrf

    def session_principal(self, sid: str) -> Principal | None:
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT s.* FROM sessions s LEFT JOIN users u ON u.user_id = s.user_id WHERE s.session_hash = ? "
                "AND s.revoked = 0 AND COALESCE(u.disabled, 0) = 0", (digest(sid),)).fetchone()
        if row is None or row["expires_at"] <= _now().isoformat():
            return None
        return Principal(row["user_id"], _role(row["role"]), parse_programs(row["programs"]), via="session",
                         csrf=row["csrf"])

    def close_session(self, sid: str) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute("UPDATE sessions SET revoked = 1 WHERE session_hash = ?", (digest(sid),))

    # ------------------------------------------------------------------ OIDC attempts
    def begin_oidc(self, state: str, nonce: str, verifier: str, next_path: str) -> None:
        with self.db.connect(immediate=True) as conn:
            cutoff = (_now() - timedelta(minutes=10)).isoformat()
            conn.execute("DELETE FROM oidc_logins WHERE created_at < ?", (cutoff,))
            conn.execute("INSERT INTO oidc_logins (state_hash, nonce, code_verifier, next_path, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (digest(state), nonce, verifier, next_path, _now().isoformat()))

    def finish_oidc(self, state: str) -> tuple[str, str, str] | None:
        """(nonce, code verifier, next path) of a sign-in begun in the last 10 minutes; usable once."""
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT * FROM oidc_logins WHERE state_hash = ?", (digest(state),)).fetchone()
            conn.execute("DELETE FROM oidc_logins WHERE state_hash = ?", (digest(state),))
        if row is None or row["created_at"] < (_now() - timedelta(minutes=10)).isoformat():
            return None
        return row["nonce"], row["code_verifier"], row["next_path"]
