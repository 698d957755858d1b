"""ServiceTitan built from settings: the client-credentials token, the API client and the reconcile source (the
only inbound path: no webhook route, see connectors/servicetitan/source.py). No network here."""

from __future__ import annotations

from connectors.oauth import ClientCredentialsGrant, TokenManager
from connectors.servicetitan.client import ServiceTitanClient
from connectors.servicetitan.source import ServiceTitanSource
from connectors.settings import secret
from workers.providers.tokens import _manager
from workers.settings import Settings


def servicetitan_token(s: Settings) -> TokenManager | None:
    """One token per tenant and app client (the credentials are issued per tenant)."""
    st = s.servicetitan
    client_secret = secret(st.client_secret)
    if not (st.client_id and client_secret):
        return None
    return _manager(s, "servicetitan", f"{(st.tenant_id or '').strip()}:{st.client_id}", st.auth_url,
                    ClientCredentialsGrant(st.client_id, client_secret))


def servicetitan_client(s: Settings) -> ServiceTitanClient:
    st = s.servicetitan
    return ServiceTitanClient(servicetitan_token(s) or "", secret(st.app_key) or "", st.tenant_id or "",
                              base_url=st.base_url.rstrip("/"))


def servicetitan_source(s: Settings) -> ServiceTitanSource:
    return ServiceTitanSource(servicetitan_client(s), s.servicetitan.no_show_reason_ids)


def servicetitan_probe(s: Settings) -> str:
    servicetitan_client(s).probe()
    return f"tenant {(s.servicetitan.tenant_id or '').strip()} readable"
