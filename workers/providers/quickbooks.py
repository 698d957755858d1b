"""QuickBooks Online built from settings: the OAuth token (Intuit's token endpoint authenticates the app with
HTTP Basic and may answer a new refresh token, which the token store keeps), the API client, its reconcile
source over change data capture, the webhook connector, the live probe and what `noshow demo --source quickbooks`
writes (a customer, an invoice for a service a program lists, voided). No network here, but in the demo."""

from __future__ import annotations

from connectors.oauth import BasicClientRefreshGrant, TokenManager
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.inbound import QuickBooksWebhook
from connectors.quickbooks.source import QuickBooksSource
from connectors.settings import secret
from policies.loader import load_policy
from policies.schema import PolicyFile
from workers.providers.tokens import _manager
from workers.settings import Settings


def quickbooks_token(s: Settings) -> TokenManager | None:
    q = s.quickbooks
    refresh = secret(q.refresh_token)
    if not (q.client_id and refresh):
        return None
    return _manager(s, "quickbooks", q.client_id, q.token_url,
                    BasicClientRefreshGrant(q.client_id, secret(q.client_secret) or "", refresh))


def quickbooks_client(s: Settings) -> QuickBooksClient:
    q = s.quickbooks
    return QuickBooksClient(quickbooks_token(s) or "", q.realm_id or "", base_url=q.base_url,
                            minorversion=q.minorversion, timeout=q.timeout_seconds)


def quickbooks_source(s: Settings) -> QuickBooksSource:
    def policy() -> PolicyFile:
        return load_policy(s.policy.file)

    return QuickBooksSource(quickbooks_client(s), policy)


def quickbooks_inbound(s: Settings) -> QuickBooksWebhook:
    return QuickBooksWebhook(secret(s.quickbooks.verifier_token) or "", realm_id=s.quickbooks.realm_id)


def quickbooks_probe(s: Settings) -> str:
    """Read-only: the company's info (`GET /company/{realmId}/companyinfo/{realmId}`)."""
    info = quickbooks_client(s).company_info()
    return f"company {info.get('Id') or s.quickbooks.realm_id} readable"
