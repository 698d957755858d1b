"""What every route depends on: the process state (settings, connectors, the Temporal client) and who is
calling (`Caller`, `Owner`, `Admin`: a bearer token or a browser session with at least that role; see
`workers/api/auth/guard.py`, where authentication runs before any body is read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from temporalio.client import Client

from connectors.contract import InboundConnector
from connectors.google.channels import SqliteChannelStore
from connectors.settings import secret
from workers.api.auth.guard import Authenticator, require
from workers.api.auth.oidc import OidcClient
from workers.api.auth.principal import Principal, parse_token_spec
from workers.api.auth.store import AuthStore
from workers.api.auth.throttle import SignInThrottle
from workers.dependencies import Dependencies
from workers.intake.cases import CaseService
from workers.intake.handoff import Handoff
from workers.intake.webhooks import WebhookIntake
from workers.providers.checks import ProviderCheck
from workers.providers.inbound import inbound_connectors
from workers.settings import Settings


def parse_reviewer_tokens(spec: str) -> dict[str, Principal]:
    return parse_token_spec(spec, "reviewer")


class AppState:
    def __init__(self, settings: Settings, deps: Dependencies, client: Client | None) -> None:
        self.settings = settings
        self.deps = deps
        self.client = client
        self.reviewers = parse_reviewer_tokens(secret(settings.auth.reviewer_tokens) or "")
        self.users = AuthStore(deps.db)
        self.authenticator = Authenticator(settings, self.users)
        self.throttle = SignInThrottle()
        self.oidc: OidcClient | None = None  # built on the first OIDC sign-in (discovery is fetched then)
        # the Google channels the worker's renewal schedule opened: a restart keeps accepting their pings
        connectors, checks = inbound_connectors(settings, channel_store=SqliteChannelStore(deps.db))
        self.connectors: dict[str, InboundConnector] = connectors
        self.connector_checks: list[ProviderCheck] = checks
        self.intake = WebhookIntake(deps, self.connectors)
        self.handoff = Handoff(self.intake, deps, settings.api)

    def cases_or_none(self) -> CaseService | None:
        return None if self.client is None else CaseService(self.client, self.deps)

    @property
    def cases(self) -> CaseService:
        if self.client is None:
            raise HTTPException(503, "Temporal is not reachable yet; retry shortly")
        return CaseService(self.client, self.deps)


async def state(request: Request) -> AppState:  # async: a plain def would cost every request a thread hop
    return request.app.state.noshow  # type: ignore[no-any-return]


State = Annotated[AppState, Depends(state)]


Caller = Annotated[Principal, Depends(require("reviewer"))]  # any signed-in reviewer, owner or admin
Owner = Annotated[Principal, Depends(require("owner"))]  # the dashboard and its exports
Admin = Annotated[Principal, Depends(require("admin"))]

__all__ = ["Admin", "AppState", "Caller", "Owner", "Principal", "State", "require", "state"]
