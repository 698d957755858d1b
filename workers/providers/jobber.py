"""Jobber built from settings: the rotating refresh-token manager, the GraphQL client, the reconcile source, the
webhook connector and the reschedule ("manual override") adapter. No network here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from connectors.jobber.client import JobberClient
from connectors.jobber.crm import JobberCrm
from connectors.jobber.inbound import JobberInbound
from connectors.jobber.reschedule import JobberReschedule
from connectors.jobber.source import JobberSource
from connectors.local.remote_creates import CreateLog
from connectors.oauth import RefreshTokenGrant, TokenManager
from connectors.settings import secret
from workers.providers.checks import url_problem
from workers.providers.tokens import _manager
from workers.settings import Settings


def jobber_token(s: Settings) -> TokenManager | None:
    """Jobber invalidates a refresh token as soon as it is used: the manager refreshes under the token store's
    per-credential lock and keeps the rotated one (connectors/oauth.py), so replicas never reuse a spent one."""
    j = s.jobber
    refresh, client_secret = secret(j.refresh_token), secret(j.client_secret)
    if not (j.client_id and refresh and client_secret):
        return None
    return _manager(s, "jobber", j.client_id, j.token_url, RefreshTokenGrant(j.client_id, client_secret, refresh))


def jobber_client(s: Settings) -> JobberClient:
    j = s.jobber
    return JobberClient(jobber_token(s) or "", api_url=j.api_url, version=j.graphql_version)


def jobber_source(s: Settings) -> JobberSource:
    j = s.jobber
    return JobberSource(jobber_client(s), back=timedelta(days=j.lookback_days), ahead=timedelta(days=j.ahead_days))


def jobber_inbound(s: Settings) -> JobberInbound:
    return JobberInbound(secret(s.jobber.client_secret) or "")


def jobber_reschedule(s: Settings) -> JobberReschedule:
    return JobberReschedule(jobber_client(s))


def jobber_crm(s: Settings, crm: Any) -> JobberCrm:
    """Notes on the Jobber client (`crm` is the local CRM: its database keeps the create log)."""
    return JobberCrm(jobber_client(s), CreateLog(crm.db, "jobber"))


def jobber_crm_problems(s: Settings) -> list[str]:
    j = s.jobber
    env = {"NOSHOW_JOBBER_CLIENT_ID": j.client_id, "NOSHOW_JOBBER_CLIENT_SECRET": secret(j.client_secret),
           "NOSHOW_JOBBER_REFRESH_TOKEN": secret(j.refresh_token)}
    problems = [f"NOSHOW_CRM_PROVIDER=jobber needs {name}" for name, value in env.items() if not value]
    return problems + [x for x in (url_problem(j.token_url, "NOSHOW_JOBBER_TOKEN_URL"),
                                   url_problem(j.api_url, "NOSHOW_JOBBER_API_URL")) if x]


def jobber_probe(s: Settings) -> str:
    return "account readable" if jobber_client(s).account().get("id") else "no account in the answer"
