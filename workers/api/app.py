"""The HTTP API: signed webhooks in, reviewer decisions, case lookup, self-serve booking, health.

Every webhook is authenticated on its raw bytes before anything parses it; bodies over the limit get 413
before they are buffered; bad input gets a 4xx that says what is wrong and starts nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import Depends, FastAPI, Form, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from connectors.contract import (
    DeliveryStatus,
    RawRequest,
    ReviewAction,
    SignatureError,
    WebhookResult,
)
from connectors.google.channels import SqliteChannelStore
from connectors.inbound import InboundBase, PayloadError
from connectors.local.webhook_receipts import UnknownType, UnknownTypes, WebhookReceipts
from domain.case import CaseState, ReviewDecision, ReviewResult, SlotChoice
from domain.ids import is_case_id
from domain.intake import EventOutcome, ReplyOutcome
from domain.links import LinkError, verify_link
from domain.models import Channel, LedgerEvent, Reply
from workers.api.errors import install_error_handlers, read_body
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.intake.webhooks import WebhookHooks
from workers.providers.wiring import ProviderSettings, inbound_connectors
from workers.settings import Settings, get_settings
from workers.temporal.client import connect
from workers.temporal.schedules import trigger_sync
from workflows.case import RecoveryCaseWorkflow

log = structlog.get_logger(__name__)


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


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    temporal: bool
    policy_version: str | None


class WebhookAck(BaseModel):
    ok: bool = True
    duplicate: bool = False
    events: list[EventOutcome] = Field(default_factory=list)
    replies: list[ReplyOutcome] = Field(default_factory=list)
    unknown_types: list[str] = Field(default_factory=list)


class PendingReview(BaseModel):
    review_id: str
    case_id: str
    reasons: list[str]
    program: str
    requested_at: str


class DecisionBody(BaseModel):
    review_id: str
    decision: Literal["approve", "reject", "edit", "suppress"]
    note: str | None = Field(default=None, max_length=1000)
    mark_attended: bool = False
    segment: str | None = None


class LocalReplyBody(BaseModel):
    case_id: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=2000)
    channel: Channel = Channel.sms
    # who answers: needed for a waitlist offer (one backfill writes to many people), ignored for a case
    sender: str | None = Field(default=None, min_length=1, max_length=254)


class CaseSummary(BaseModel):
    case_id: str
    status: str
    stage: str | None
    kind: str | None
    needs_review: bool | None
    outcome: str | None
    start_time: datetime | None


class Problem(BaseModel):
    detail: str


class AppState:
    def __init__(self, settings: Settings, deps: Dependencies, client: Client | None) -> None:
        self.settings = settings
        self.deps = deps
        self.client = client
        self.reviewers = parse_reviewer_tokens(settings.auth.reviewer_tokens.get_secret_value())
        self.providers = ProviderSettings()
        secrets = [s for s in settings.auth.webhook_secret.get_secret_value().split(",") if s]
        # the Google channels the worker's renewal schedule opened: a restart keeps accepting their pings
        self.connectors, self.connector_checks = inbound_connectors(self.providers, secrets,
                                                                    channel_store=SqliteChannelStore(deps.db))
        self.hooks = WebhookHooks(deps, self.connectors)  # push pings, Zoom meeting links and attendance
        self.slack_reviewers = {u.strip() for u in self.providers.slack_reviewers.split(",") if u.strip()}
        self.deliveries = WebhookReceipts(deps.db)
        self.unknown_types = UnknownTypes(deps.db)
        self.background: set[asyncio.Task[None]] = set()

    @property
    def cases(self) -> CaseService:
        if self.client is None:
            raise HTTPException(503, "Temporal is not reachable yet; retry shortly")
        return CaseService(self.client, self.deps)


def state(request: Request) -> AppState:
    return request.app.state.noshow  # type: ignore[no-any-return]


def principal(
    st: Annotated[AppState, Depends(state)], authorization: Annotated[str | None, Header()] = None
) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    token = authorization[7:].strip().encode()
    if hmac.compare_digest(token, st.settings.auth.admin_token.get_secret_value().encode()):
        return Principal("admin", "admin", {"*"})
    for candidate, who in st.reviewers.items():
        if hmac.compare_digest(token, candidate.encode()):
            return who
    raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


def admin(p: Annotated[Principal, Depends(principal)]) -> Principal:
    if p.role != "admin":
        raise HTTPException(403, "this endpoint needs the admin token")
    return p


def create_app(settings: Settings | None = None, client: Client | None = None,
               deps: Dependencies | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.noshow
        if state.client is None:
            state.client = await connect(settings, wait_seconds=60)
        yield

    app = FastAPI(
        title="noshow-recovery",
        version="0.1.0",
        description="Recover missed appointments: signed webhooks start durable cases; reviewers decide the "
        "unclear ones. Reviewer endpoints need `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    app.state.noshow = AppState(settings, deps or build_dependencies(settings), client)

    @app.get("/health", response_model=Health, tags=["ops"])
    async def health(st: Annotated[AppState, Depends(state)]) -> Health:
        ok = False
        if st.client is not None:
            try:
                await st.client.service_client.check_health()
                ok = True
            except Exception:
                ok = False
        try:
            version = st.deps.policy().version
        except Exception:
            version = None
        return Health(status="ok" if ok and version else "degraded", temporal=ok, policy_version=version)

    @app.get("/ops/unknown-event-types", response_model=list[UnknownType], tags=["ops"],
             summary="Webhook event types no connector handles yet: acknowledged to the provider, counted here")
    def unknown_event_types(st: Annotated[AppState, Depends(state)],
                            _: Annotated[Principal, Depends(admin)]) -> list[UnknownType]:
        return st.unknown_types.all()

    @app.post(
        "/webhooks/{provider}",
        response_model=WebhookAck,
        tags=["webhooks"],
        responses={401: {"model": Problem}, 404: {"model": Problem}, 413: {"model": Problem},
                   422: {"model": Problem}},
        summary="Receive a signed webhook (canonical events at /webhooks/events; providers by name)",
    )
    async def webhook(provider: str, request: Request, st: Annotated[AppState, Depends(state)]) -> Response:
        connector = st.connectors.get(provider)
        if connector is None:
            raise HTTPException(404, f"no webhook connector named {provider!r} is configured")
        body = await read_body(request, st.settings.api.max_body_bytes)
        public_url = st.settings.api.public_base_url.rstrip("/") + request.url.path
        if request.url.query:
            public_url += "?" + request.url.query
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw = RawRequest(method=request.method, url=public_url, headers=headers, query=dict(request.query_params),
                         body=body)
        now = datetime.now(UTC)
        try:
            if isinstance(connector, InboundBase):
                # authenticity and freshness only: an identical re-delivery is a duplicate (200, no effect),
                # not an attack, so it is answered from the delivery log below instead of refused
                connector.check_signature(raw, now)
            else:
                connector.verify(raw, now)
        except SignatureError as exc:
            log.info("webhook_rejected", provider=provider, reason=str(exc))
            raise HTTPException(401, f"signature rejected: {exc}") from None
        except (PayloadError, ValueError) as exc:  # a signature header that is not even well-formed
            raise HTTPException(401, f"signature rejected: {exc}") from None
        try:
            # in a thread: a connector may read the provider's API to complete an event (HubSpot meeting details)
            result = await asyncio.to_thread(connector.parse, raw)
        except (PayloadError, ValueError) as exc:
            raise HTTPException(422, f"invalid payload: {exc}") from None
        key = f"{provider}:{result.dedupe_key}" if result.dedupe_key else None
        # SQLite off the event loop: other deliveries keep being read and acknowledged meanwhile
        if key and await asyncio.to_thread(st.deliveries.seen, key):
            ack = WebhookAck(duplicate=True)
        else:
            result = st.hooks.before_dispatch(connector, raw, result)
            ack = await dispatch(st, provider, result)
            await st.hooks.after_dispatch(connector, raw, result, st.client)
            if key:
                await asyncio.to_thread(st.deliveries.remember, key)
        if result.response is not None:
            if isinstance(result.response, str):
                return PlainTextResponse(result.response, media_type=result.response_media_type)
            return JSONResponse(result.response)
        return JSONResponse(ack.model_dump(mode="json"))

    async def dispatch(st: AppState, provider: str, result: WebhookResult) -> WebhookAck:
        ack = WebhookAck(unknown_types=result.unknown_types)
        for event in result.events:
            ack.events.append(await st.cases.submit_event(event))
        for message in result.messages:
            reply = Reply(reply_id=message.provider_message_id, channel=message.channel, text=message.text[:5000],
                          received_at=message.received_at)
            ack.replies.append(await st.cases.submit_reply(reply, sender=message.sender))
        for status in result.statuses:
            record_delivery_status(st.deps, status)
        for action in result.review_actions:
            # Slack wants its answer within 3 s: acknowledge now, apply the decision right after
            task = asyncio.create_task(apply_slack_decision(st, action))
            st.background.add(task)
            task.add_done_callback(st.background.discard)
        for source in result.sync_sources:  # a Google / Graph ping: reconcile that source now
            await trigger_sync(st.cases.client, source)
        if result.unknown_types:
            st.unknown_types.count(provider, result.unknown_types)
            log.info("webhook_unknown_types", provider=provider, count=len(result.unknown_types))
        return ack

    @app.post("/inbound/local", response_model=ReplyOutcome, tags=["local"],
              summary="Simulate a customer reply to a case (the embedded default's stand-in for an SMS)")
    async def local_reply(body: LocalReplyBody, st: Annotated[AppState, Depends(state)],
                          _: Annotated[Principal, Depends(admin)]) -> ReplyOutcome:
        reply = Reply(reply_id=f"local-{uuid.uuid4().hex[:16]}", channel=body.channel, text=body.text,
                      received_at=datetime.now(UTC))
        return await st.cases.submit_reply(reply, sender=body.sender, case_id=body.case_id)

    @app.get("/reviews", response_model=list[PendingReview], tags=["reviews"])
    async def pending_reviews(st: Annotated[AppState, Depends(state)],
                              who: Annotated[Principal, Depends(principal)]) -> list[PendingReview]:
        return [PendingReview.model_validate(r) for r in st.deps.reviews.pending() if who.may_review(str(r["program"]))]

    @app.post("/reviews/{case_id}/decision", response_model=ReviewResult, tags=["reviews"],
              responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
                         409: {"model": Problem}})
    async def decide(case_id: str, body: DecisionBody, st: Annotated[AppState, Depends(state)],
                     who: Annotated[Principal, Depends(principal)]) -> ReviewResult:
        if not is_case_id(case_id):  # another workflow's id must not be queried (or updated) as a case
            raise HTTPException(404, "no such case")
        handle = st.cases.handle(case_id)
        try:
            current: CaseState = await handle.query(RecoveryCaseWorkflow.state_query)
        except RPCError:
            raise HTTPException(404, "no such case") from None
        if not who.may_review(current.program):
            raise HTTPException(403, f"{who.identity} may not review program {current.program!r}")
        decision = ReviewDecision(reviewer=who.identity, **body.model_dump())
        try:
            result: ReviewResult = await handle.execute_update(RecoveryCaseWorkflow.review_decision, decision)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause.message if exc.cause and hasattr(exc.cause, "message") else str(exc)
            raise HTTPException(409, f"decision rejected: {cause}") from None
        except RPCError as exc:
            raise HTTPException(409, f"decision rejected: {exc.message}") from None
        st.deps.reviews.mark(body.review_id, "decided", body.decision, who.identity)
        st.deps.reviews.audit(who.identity, f"review.{body.decision}", case_id,
                              {"review_id": body.review_id, "note": body.note})
        log.info("review_decided", case_id=case_id, decision=body.decision)
        return result

    @app.get("/cases/{case_id}", response_model=CaseState, tags=["cases"], responses={404: {"model": Problem}})
    async def get_case(case_id: str, st: Annotated[AppState, Depends(state)],
                       _: Annotated[Principal, Depends(principal)]) -> CaseState:
        if not is_case_id(case_id):
            raise HTTPException(404, "no such case")
        try:
            return await st.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)  # type: ignore[no-any-return]
        except RPCError:
            raise HTTPException(404, "no such case") from None

    @app.get("/cases", response_model=list[CaseSummary], tags=["cases"])
    async def list_cases(st: Annotated[AppState, Depends(state)], _: Annotated[Principal, Depends(principal)],
                         stage: str | None = None, limit: int = 100) -> list[CaseSummary]:
        return await list_case_summaries(st.cases.client, stage=stage, limit=min(max(limit, 1), 1000))

    @app.get("/book/{token}", response_class=HTMLResponse, tags=["self-serve"],
             summary="The self-serve page listing the offered slots")
    async def booking_page(token: str, st: Annotated[AppState, Depends(state)]) -> HTMLResponse:
        _, _, state_ = await _offer_for(st, token)
        rows = "".join(
            f'<li><form method="post"><input type="hidden" name="slot_index" value="{i}">'
            f'<button type="submit">{html.escape(s.start.strftime("%a %b %d, %H:%M %Z"))}</button></form></li>'
            for i, s in enumerate(state_.offered)
        )
        page = (
            "<!doctype html><html><head><meta name=viewport content='width=device-width,initial-scale=1'>"
            "<title>Pick a new time</title><style>body{font-family:system-ui;max-width:30em;margin:2em auto;"
            "padding:0 1em}button{font-size:1.1em;padding:.6em 1em;margin:.3em 0;width:100%}</style></head><body>"
            f"<h1>Pick a new time</h1><ul style='list-style:none;padding:0'>{rows}</ul></body></html>"
        )
        return HTMLResponse(page)

    @app.post("/book/{token}", response_class=HTMLResponse, tags=["self-serve"],
              summary="Book one of the offered slots from the self-serve page")
    async def book_from_link(token: str, slot_index: Annotated[int, Form(ge=0, le=20)],
                             st: Annotated[AppState, Depends(state)]) -> HTMLResponse:
        case_id, _, state_ = await _offer_for(st, token)
        if slot_index >= len(state_.offered):
            raise HTTPException(422, "that slot is not one of the offered slots")
        await st.cases.handle(case_id).signal(
            RecoveryCaseWorkflow.choose_slot,
            SlotChoice(choice_id=f"link-{token[-12:]}-{slot_index}", slot_index=slot_index, via="link"),
        )
        return HTMLResponse("<!doctype html><p>Thanks! We are booking that time and will confirm shortly.</p>")

    async def _offer_for(st: AppState, token: str) -> tuple[str, int, CaseState]:
        try:
            case_id, attempt = verify_link(st.settings.auth.link_secret.get_secret_value(), token)
        except LinkError as exc:
            raise HTTPException(403, str(exc)) from None
        try:
            current: CaseState = await st.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)
        except RPCError:
            raise HTTPException(404, "this offer no longer exists") from None
        if current.stage.value != "offering" or not current.offered:
            raise HTTPException(410, "this offer is no longer open")
        return case_id, attempt, current

    mount_extras(app)
    install_error_handlers(app)
    return app


_FAILED = {"failed", "undelivered", "bounced", "dropped", "spam", "unsubscribed"}


def record_delivery_status(deps: Dependencies, status: DeliveryStatus) -> None:
    """Provider delivery news: outbox status, the ledger, and consent for unsubscribes, spam reports, bounces."""
    from connectors.sendgrid import consent_effect

    if not status.message_id:
        return
    deps.outbox.set_status(status.message_id, status.status)
    row = next(iter(deps.outbox.messages_by_id(status.message_id)), None)
    if row is None:
        return
    case_id, contact_key = str(row["case_id"]), row.get("contact_key")
    if status.status == "delivered" or status.status in _FAILED:
        deps.ledger.append(LedgerEvent(
            event_id=f"{status.message_id}:status:{status.status}", case_id=case_id,
            type="message_delivered" if status.status == "delivered" else "message_failed", at=status.at,
            source="provider", appointment_type="-", channel=Channel(str(row["channel"])),
            template_id=str(row["template_id"] or "").split("@")[0] or None, reason=status.error_code,
        ))
    effect = consent_effect(status)
    if effect is not None and contact_key:
        # a carrier STOP, an unsubscribe or a spam report revokes; a hard bounce stops that channel
        deps.consent.record(f"status-{status.provider_message_id}-{status.status}", str(contact_key), "opted_out",
                            channel=str(row["channel"]) if effect == "suppress" else "*",
                            evidence=f"provider status {status.status}", evidence_channel=str(row["channel"]),
                            at=status.at)


async def apply_slack_decision(st: AppState, action: ReviewAction) -> None:
    user_id = action.reviewer.removeprefix("slack:").split(" ")[0]
    if "*" not in st.slack_reviewers and user_id not in st.slack_reviewers:
        log.info("slack_decision_refused", case_id=action.case_id, reason="reviewer not allowed")
        return
    handle = st.cases.handle(action.case_id)
    try:
        current: CaseState = await handle.query(RecoveryCaseWorkflow.state_query)
        if current.review is None:
            return
        # the Slack button carries the notification's key: "<review id>-<reminder number>"
        clicked = action.review_id or ""
        review_id = current.review.review_id if clicked.rsplit("-", 1)[0] == current.review.review_id else clicked
        decision = ReviewDecision(review_id=review_id,
                                  decision=action.decision if action.decision != "edit" else "approve",
                                  reviewer=action.reviewer, note=action.note)
        await handle.execute_update(RecoveryCaseWorkflow.review_decision, decision)
    except (RPCError, WorkflowUpdateFailedError) as exc:
        log.info("slack_decision_rejected", case_id=action.case_id, error=type(exc).__name__)
        return
    st.deps.reviews.mark(decision.review_id, "decided", decision.decision, action.reviewer)
    st.deps.reviews.audit(action.reviewer, f"review.{decision.decision}", action.case_id,
                          {"review_id": decision.review_id, "via": "slack"})


def mount_extras(app: FastAPI) -> None:
    """Routers that live beside the engine: the reporting dashboard, the waitlist and its backfills."""
    from reporting.dashboard import dashboard_router
    from workers.api.routes.waitlist import waitlist_router

    app.include_router(dashboard_router(lambda: app.state.noshow.deps.ledger))
    app.include_router(waitlist_router())


async def list_case_summaries(client: Client, stage: str | None = None, limit: int = 100) -> list[CaseSummary]:
    query = "WorkflowType = 'RecoveryCase'"
    if stage:
        if not stage.replace("_", "").isalpha():
            raise HTTPException(422, "stage must be a stage name")
        query += f" AND NoShowStage = '{stage}'"
    out: list[CaseSummary] = []
    async for wf in client.list_workflows(query, limit=limit):
        attrs: dict[str, Any] = dict(wf.search_attributes or {})

        def first(name: str, attrs: dict[str, Any] = attrs) -> Any:
            value = attrs.get(name)
            return value[0] if isinstance(value, list) and value else value

        out.append(CaseSummary(
            case_id=wf.id, status=wf.status.name if wf.status else "UNKNOWN", stage=first("NoShowStage"),
            kind=first("NoShowKind"), needs_review=first("NoShowNeedsReview"), outcome=first("NoShowOutcome"),
            start_time=wf.start_time,
        ))
        if len(out) >= limit:
            break
    return out


def main() -> None:
    import uvicorn

    from workers.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="warning")


__all__ = ["Form", "create_app"]


if __name__ == "__main__":
    main()
