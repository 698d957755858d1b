"""Tables for people and sessions, address-level consent, send reservations, the staff inbox, replay-proof
webhooks, owner alerts and OAuth tokens.

- `users`, `api_tokens`, `sessions`, `oidc_logins`: local accounts (argon2id hashes), scoped bearer tokens and
  browser sessions (stored as digests), OpenID Connect logins in flight.
- `case_addresses`: which cases know a normalised address, so a reply or a STOP from it finds them.
- `send_intents`: the intent to send, recorded (under the address's lock, with the cap check) before the
  provider is called.
- `staff_tasks`, `staff_resolutions`, `review_assignments`: the staff inbox and who resolved or took what.
- `webhook_long_receipts`, `webhook_signed_digests`: dedupe for providers that sign no timestamp.
- `audit_keys`, `owner_alerts`: audit rows written once per key; alerts to owners.
- `oauth_tokens`: provider tokens, sealed with AES-GCM.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# spelled out rather than imported: a migration must not change when the application code does
DDL = """
CREATE TABLE IF NOT EXISTS staff_resolutions (
    item_id TEXT PRIMARY KEY,           -- inbound:<reply id> | task:<idempotency key>
    resolved_by TEXT NOT NULL,
    note TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_assignments (
    review_id TEXT PRIMARY KEY,
    assignee TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_addresses (
    address_key TEXT NOT NULL,          -- domain.addresses.address_key of a normalised phone or email
    case_id TEXT NOT NULL,
    contact_key TEXT NOT NULL,
    at TEXT NOT NULL,                   -- when the case learnt it (ISO UTC)
    PRIMARY KEY (address_key, case_id)
);
CREATE INDEX IF NOT EXISTS case_addresses_contact ON case_addresses (contact_key, at);
CREATE INDEX IF NOT EXISTS case_addresses_case ON case_addresses (case_id);
CREATE TABLE IF NOT EXISTS send_intents (
    message_id TEXT PRIMARY KEY,        -- the send's idempotency key
    case_id TEXT NOT NULL,
    contact_key TEXT NOT NULL,
    address_key TEXT,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,               -- sending | sent | failed
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS send_intents_address ON send_intents (address_key, created_at);
CREATE INDEX IF NOT EXISTS send_intents_contact ON send_intents (contact_key, created_at);
CREATE TABLE IF NOT EXISTS staff_tasks (
    reply_id TEXT PRIMARY KEY,          -- the customer message a human must look at
    case_id TEXT,                       -- the case it was recorded against, if any
    routed TEXT NOT NULL,               -- unknown_sender | closed_case | waitlist_offer | case
    intent TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_long_receipts (
    key TEXT PRIMARY KEY,               -- provider dedupe key of a provider that signs no timestamp
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_long_receipts_at ON webhook_long_receipts (at);
CREATE TABLE IF NOT EXISTS webhook_signed_digests (
    provider TEXT NOT NULL,
    digest TEXT NOT NULL,               -- sha256 of exactly what the signature covers
    request_digest TEXT NOT NULL,       -- sha256 of the request as parsed (tells a re-split from a retry)
    at TEXT NOT NULL,
    PRIMARY KEY (provider, digest)
);
CREATE INDEX IF NOT EXISTS webhook_signed_digests_at ON webhook_signed_digests (at);
CREATE TABLE IF NOT EXISTS audit_keys (
    audit_key TEXT PRIMARY KEY,         -- one audit row per key, however often an activity retries
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS owner_alerts (
    alert_id TEXT PRIMARY KEY,
    case_id TEXT,
    owner_id TEXT,
    program TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- cancellation | high_value_miss | exception | digest
    summary TEXT NOT NULL,
    value REAL NOT NULL DEFAULT 0,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS owner_alerts_owner ON owner_alerts (owner_id, at);
CREATE TABLE IF NOT EXISTS oauth_tokens (
    provider TEXT NOT NULL,             -- google | outlook | salesforce | ...
    account TEXT NOT NULL,              -- which credential (a client id / mailbox / org), never a person's name
    sealed TEXT NOT NULL,               -- kid:base64(nonce + AES-GCM(token JSON)); never the token in clear
    expires_at TEXT NOT NULL,           -- ISO UTC of the access token's expiry
    updated_at TEXT NOT NULL,
    PRIMARY KEY (provider, account)
);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,           -- opaque: what audit rows and sessions name
    username TEXT NOT NULL UNIQUE,      -- the sign-in name (often an email): stays in this table
    password_hash TEXT NOT NULL,        -- argon2id, PHC string
    role TEXT NOT NULL,                 -- reviewer | owner | admin
    programs TEXT NOT NULL,             -- "|"-separated, "*" = every program
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,        -- SHA-256 of the token: the token itself is shown once, never stored
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,                 -- at most the user's role
    programs TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    session_hash TEXT PRIMARY KEY,      -- SHA-256 of the cookie value
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    programs TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oidc_logins (
    state_hash TEXT PRIMARY KEY,        -- SHA-256 of the state bound to the browser's pre-login cookie
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

TABLES = ("staff_resolutions", "review_assignments", "case_addresses", "send_intents", "staff_tasks",
          "webhook_long_receipts", "webhook_signed_digests", "audit_keys", "owner_alerts", "oauth_tokens",
          "users", "api_tokens", "sessions", "oidc_logins")


def upgrade() -> None:
    for statement in DDL.split(";\n"):
        if statement.strip():
            op.execute(statement.strip().rstrip(";"))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
