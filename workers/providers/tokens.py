"""Access tokens for the OAuth providers, built once per process from the settings: a `TokenManager` (refreshed
before expiry, stored sealed in the local database when NOSHOW_ENCRYPTION_KEY is set, in memory otherwise) when
the OAuth client is configured, else the static access token, else None."""

from __future__ import annotations

import threading

from connectors.local.db import LocalDb
from connectors.local.oauth_tokens import SqlTokenStore, TokenCipher
from connectors.oauth import (
    ClientCredentialsGrant,
    Grant,
    JwtBearerGrant,
    MemoryTokenStore,
    RefreshTokenGrant,
    TokenManager,
    TokenSource,
    TokenStore,
)
from connectors.settings import secret
from workers.settings import Settings

GRAPH_SCOPE_DELEGATED = "offline_access https://graph.microsoft.com/Calendars.ReadWrite"
GRAPH_SCOPE_APPLICATION = "https://graph.microsoft.com/.default"

_managers: dict[tuple[str, str, str], TokenManager] = {}
_lock = threading.Lock()


def token_store(s: Settings) -> TokenStore:
    key = secret(s.temporal.encryption_key)
    if not key:
        return MemoryTokenStore()  # nothing to seal with: tokens are not written to disk in clear
    return SqlTokenStore(LocalDb(s.storage.local_db_path), TokenCipher.from_setting(key))


def _manager(s: Settings, provider: str, account: str, token_url: str, grant: Grant) -> TokenManager:
    key = (provider, account, token_url)
    with _lock:
        if key not in _managers:
            _managers[key] = TokenManager(provider, account, token_url, grant, token_store(s))
        return _managers[key]


def google_token(s: Settings) -> TokenSource | None:
    g = s.google
    refresh = secret(g.refresh_token)
    if g.client_id and refresh:
        grant = RefreshTokenGrant(g.client_id, secret(g.client_secret) or "", refresh)
        return _manager(s, "google", g.client_id, g.token_url, grant)
    return secret(g.access_token)


def graph_token(s: Settings) -> TokenSource | None:
    g = s.graph
    client_secret = secret(g.client_secret) or ""
    if not g.client_id or not (client_secret or secret(g.refresh_token)):
        return secret(g.access_token)
    url = g.token_url or f"https://login.microsoftonline.com/{g.tenant}/oauth2/v2.0/token"
    refresh = secret(g.refresh_token)
    grant: Grant = (RefreshTokenGrant(g.client_id, client_secret, refresh, GRAPH_SCOPE_DELEGATED) if refresh
                    else ClientCredentialsGrant(g.client_id, client_secret, GRAPH_SCOPE_APPLICATION))
    return _manager(s, "outlook", g.client_id, url, grant)


def salesforce_token(s: Settings) -> TokenManager | None:
    """The JWT bearer grant's manager (the token response names the instance URL), or None when incomplete."""
    sf = s.salesforce
    key = secret(sf.private_key)
    if not (sf.client_id and sf.username and key):
        return None
    audience = (sf.audience or sf.login_url).rstrip("/")
    # a PEM in one environment line carries its newlines as \n
    grant = JwtBearerGrant(sf.client_id, sf.username, audience, key.replace("\\n", "\n"))
    return _manager(s, "salesforce", sf.username, f"{sf.login_url.rstrip('/')}/services/oauth2/token", grant)


def zoho_token(s: Settings) -> TokenManager | None:
    """A refresh-token manager at the data centre's accounts server, or None when incomplete."""
    z = s.zoho
    refresh = secret(z.refresh_token)
    if not (z.client_id and refresh):
        return None
    return _manager(s, "zoho", z.client_id, z.token_url, RefreshTokenGrant(z.client_id, secret(z.client_secret) or "",
                                                                           refresh))
