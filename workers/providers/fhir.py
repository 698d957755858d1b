"""The FHIR connector's builders: the SMART Backend Services token (or a static one), the client, the reconcile
source, the Subscription inbound and the calendar."""

from __future__ import annotations

from datetime import timedelta

from connectors.fhir.auth import SmartBackendToken
from connectors.fhir.calendar import FhirCalendar
from connectors.fhir.client import FhirClient
from connectors.fhir.inbound import FhirSubscriptionInbound
from connectors.fhir.source import FhirSource
from connectors.oauth import SmartBackendGrant, TokenManager, TokenSource
from connectors.settings import secret
from workers.providers.tokens import token_store
from workers.settings import Settings

_tokens: dict[tuple[str, str], SmartBackendToken] = {}


def fhir_token(s: Settings) -> TokenSource | None:
    f = s.fhir
    key = secret(f.private_key)
    if f.base_url and f.client_id and key:
        cache = (f.base_url, f.client_id)
        if cache not in _tokens:
            store = token_store(s)

            def manager(url: str, grant: SmartBackendGrant) -> TokenManager:
                # SMART tokens are short (Epic's lifetime UNVERIFIED): refresh a minute ahead, not five
                return TokenManager("fhir", f.client_id or "", url, grant, store, refresh_before=timedelta(minutes=1))

            _tokens[cache] = SmartBackendToken(f.base_url, f.client_id, key, f.key_id or "", f.scope, manager,
                                               algorithm=f.algorithm, jku=f.jku)
        return _tokens[cache]
    return secret(f.access_token)


def fhir_client(s: Settings) -> FhirClient:
    return FhirClient(fhir_token(s) or "", (s.fhir.base_url or "").strip())


def fhir_source(s: Settings) -> FhirSource:
    return FhirSource(fhir_client(s), calendar_id=(s.fhir.schedule_id or "").strip() or "fhir",
                      first_lookback=timedelta(hours=s.fhir.lookback_hours))


def fhir_inbound(s: Settings) -> FhirSubscriptionInbound:
    return FhirSubscriptionInbound(secret(s.fhir.subscription_token) or "")


def fhir_calendar(s: Settings) -> FhirCalendar:
    return FhirCalendar(fhir_client(s), (s.fhir.schedule_id or "").strip() or None)
