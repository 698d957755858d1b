"""What every route depends on: the process state (settings, connectors, the Temporal client) and who is
calling (a bearer token: the admin, or a reviewer scoped to programs)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request
from temporalio.client import Client

from connectors.contract import InboundConnector
from connectors.google.channels import SqliteChannelStore
from connectors.settings import secret
from workers.dependencies import Dependencies
from workers.intake.cases import CaseService
from workers.intake.webhooks import WebhookIntake
from workers.providers.checks import ProviderCheck
from workers.providers.inbound import inbound_connectors
from workers.settings import Settings


@dataclass
class Principal:
    identity: str
    role: Literal["reviewer", "admin"]
    programs: set[str]

    def may_review(self, program: str) -> bool:
        return self.role == "admin" or "*" in self.programs or program in self.programs


def parse_reviewer_tokens(spec: str) -> dict[str, Principal]:
    out: dict[str, Principal] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        token, _, rest = item.partition("=")
        identity, _, programs = rest.partition(":")
        if token and identity:
            out[token] = Principal(identity, "reviewer", set((programs or "*").split("|")))
    return out


class AppState:
    def __init__(self, settings: Settings, deps: Dependencies, client: Client | None) -> None:
        self.settings = settings
        self.deps = deps
        self.client = client
        self.reviewers = parse_reviewer_tokens(secret(settings.auth.reviewer_tokens) or "")
        # the Google channels the worker's renewal schedule opened: a restart keeps accepting their pings
        connectors, checks = inbound_connectors(settings, channel_store=SqliteChannelStore(deps.db))
        self.connectors: dict[str, InboundConnector] = connectors
        self.connector_checks: list[ProviderCheck] = checks
        self.intake = WebhookIntake(deps, self.connectors)

    @property
    def cases(self) -> CaseService:
        if self.client is None:
            raise HTTPException(503, "Temporal is not reachable yet; retry shortly")
        return CaseService(self.client, self.deps)


def state(request: Request) -> AppState:
    return request.app.state.noshow  # type: ignore[no-any-return]


State = Annotated[AppState, Depends(state)]


def principal(st: State, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    token = authorization[7:].strip().encode()
    if hmac.compare_digest(token, (secret(st.settings.auth.admin_token) or "").encode()):
        return Principal("admin", "admin", {"*"})
    for candidate, who in st.reviewers.items():
        if hmac.compare_digest(token, candidate.encode()):
            return who
    raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


def admin(p: Annotated[Principal, Depends(principal)]) -> Principal:
    if p.role != "admin":
        raise HTTPException(403, "this endpoint needs the admin token")
    return p


Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin)]
