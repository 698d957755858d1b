"""Salesforce and Zoho CRM built from settings: their reconcile sources, the CRM adapters the engine writes
outcomes through, and the format checks `noshow connectors check` prints. No network here."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from connectors.local.remote_creates import CreateLog
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.crm import DEFAULT_FIELDS as SALESFORCE_FIELDS
from connectors.salesforce.crm import SalesforceCrm
from connectors.salesforce.source import SalesforceSource
from connectors.settings import secret
from connectors.zoho.client import ZohoClient
from connectors.zoho.crm import DEFAULT_FIELDS as ZOHO_FIELDS
from connectors.zoho.crm import ZohoCrm
from connectors.zoho.source import ZohoChannelKeeper, ZohoSource
from policies.schema import CrmRules
from workers.providers.checks import url_problem
from workers.providers.tokens import salesforce_token, zoho_token
from workers.settings import Settings

TITLES = {"salesforce": "Salesforce", "zoho": "Zoho CRM"}


def salesforce_client(s: Settings) -> SalesforceClient:
    sf = s.salesforce
    return SalesforceClient(salesforce_token(s) or "", instance_url=(sf.instance_url or "").strip() or None,
                            api_version=sf.api_version)


def zoho_client(s: Settings) -> ZohoClient:
    z = s.zoho
    return ZohoClient(zoho_token(s) or "", api_domain=(z.api_domain or "").strip() or None,
                      default_domain=z.default_api_domain, api_version=z.api_version)


def salesforce_source(s: Settings) -> SalesforceSource:
    sf = s.salesforce
    return SalesforceSource(salesforce_client(s), sf.objects, no_show_statuses=sf.no_show_statuses,
                            attended_statuses=sf.attended_statuses, cancelled_statuses=sf.cancelled_statuses,
                            outcome_field=sf.event_outcome_field)


def zoho_source(s: Settings) -> ZohoSource:
    """With NOSHOW_ZOHO_CHANNEL_TOKEN set, the poll also keeps the notification channel to /webhooks/zoho open."""
    client, token = zoho_client(s), secret(s.zoho.channel_token)
    keeper = ZohoChannelKeeper(client, s.zoho.channel_id, token, f"{s.api.public_base_url.rstrip('/')}/webhooks/zoho"
                               ) if token else None
    return ZohoSource(client, outcome_field=s.zoho.outcome_field, keeper=keeper)


def _pem_problem(pem: str | None) -> str | None:
    if not pem:
        return None
    try:
        key = load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
    except (ValueError, TypeError):
        return "NOSHOW_SALESFORCE_PRIVATE_KEY is not an unencrypted PEM private key"
    if not isinstance(key, RSAPrivateKey):
        return "NOSHOW_SALESFORCE_PRIVATE_KEY must be an RSA key (the JWT bearer flow signs RS256)"
    return None


def salesforce_problems(s: Settings) -> list[str]:
    sf = s.salesforce
    env = {"NOSHOW_SALESFORCE_CLIENT_ID": sf.client_id, "NOSHOW_SALESFORCE_USERNAME": sf.username,
           "NOSHOW_SALESFORCE_PRIVATE_KEY": secret(sf.private_key)}
    problems = [f"missing {name}" for name, value in env.items() if not (value or "").strip()]
    problems += [p for p in [_pem_problem(secret(sf.private_key))] if p]
    urls = {"NOSHOW_SALESFORCE_LOGIN_URL": sf.login_url, "NOSHOW_SALESFORCE_INSTANCE_URL": sf.instance_url,
            "NOSHOW_SALESFORCE_AUDIENCE": sf.audience}
    problems += [p for p in (url_problem(v, k) for k, v in urls.items() if v) if p]
    unknown = sorted(set(sf.fields) - set(SALESFORCE_FIELDS) - {"owner_task", "customer_note", "source_campaign"})
    if unknown:
        problems.append("NOSHOW_SALESFORCE_FIELDS names unknown fields: " + ", ".join(unknown)[:200])
    return problems


def zoho_problems(s: Settings) -> list[str]:
    z = s.zoho
    env = {"NOSHOW_ZOHO_CLIENT_ID": z.client_id, "NOSHOW_ZOHO_CLIENT_SECRET": secret(z.client_secret),
           "NOSHOW_ZOHO_REFRESH_TOKEN": secret(z.refresh_token)}
    problems = [f"missing {name}" for name, value in env.items() if not (value or "").strip()]
    urls = {"NOSHOW_ZOHO_ACCOUNTS_URL": z.accounts_url, "NOSHOW_ZOHO_API_DOMAIN": z.api_domain}
    problems += [p for p in (url_problem(v, k) for k, v in urls.items() if v) if p]
    if len(secret(z.channel_token) or "") > 50:
        problems.append("NOSHOW_ZOHO_CHANNEL_TOKEN is longer than the 50 characters Zoho accepts")
    unknown = sorted(set(z.fields) - set(ZOHO_FIELDS) - {"owner_task", "customer_note", "source_campaign"})
    if unknown:
        problems.append("NOSHOW_ZOHO_FIELDS names unknown fields: " + ", ".join(unknown)[:200])
    return problems


def crm_problems(s: Settings) -> list[str]:
    p = s.routing.crm_provider
    return salesforce_problems(s) if p == "salesforce" else zoho_problems(s) if p == "zoho" else []


def remote_crm(s: Settings, crm: Any, rules: CrmRules) -> SalesforceCrm | ZohoCrm | None:
    """The selected CRM's adapter over the local CRM `crm` (its database keeps the create log, its contacts are
    looked up by email), or None when neither is selected."""
    p = s.routing.crm_provider
    if p == "salesforce":
        sf = s.salesforce
        return SalesforceCrm(salesforce_client(s), CreateLog(crm.db, "salesforce"), rules,
                             {**SALESFORCE_FIELDS, **sf.fields}, (sf.owner_id or "").strip() or None, crm.contact)
    if p == "zoho":
        z = s.zoho
        return ZohoCrm(zoho_client(s), CreateLog(crm.db, "zoho"), rules, {**ZOHO_FIELDS, **z.fields},
                       (z.owner_id or "").strip() or None, crm.contact)
    return None
