"""`POST /webhooks/{provider}`: every delivery authenticated on its raw bytes before anything parses it; bodies
over the limit get 413 before they are buffered; bad input gets a 4xx that says what is wrong and starts nothing.
A verified delivery is written down before it is acknowledged (workers/intake/handoff.py): 200 with its effects
when they finish within NOSHOW_API_ACK_SECONDS (or the sender's `Prefer: wait=N`), else 202 with its intake id;
503 only when the queue is full."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError

from connectors.contract import RawRequest, SignatureError
from connectors.inbound import InboundBase, PayloadError
from domain.addresses import AddressError
from domain.intake import WebhookAck
from workers.api.deps import State
from workers.api.errors import read_body, safe_errors
from workers.api.models import Problem
from workers.api.temporal_gate import RETRY_AFTER_SECONDS
from workers.intake.edge import on_edge
from workers.intake.handoff import Backlogged, Ticket
from workers.providers.inbound import unwrap

log = structlog.get_logger(__name__)

router = APIRouter(tags=["webhooks"])
MAX_PREFERRED_WAIT = 60


@router.post(
    "/webhooks/{provider}",
    response_model=WebhookAck,
    responses={202: {"model": WebhookAck, "description": "accepted and queued: its effects follow shortly"},
               401: {"model": Problem}, 404: {"model": Problem}, 413: {"model": Problem}, 422: {"model": Problem},
               503: {"model": Problem, "description": "the intake queue is full; retry after `Retry-After`"}},
    summary="Receive a signed webhook (canonical events at /webhooks/events; providers by name)",
)
async def webhook(provider: str, request: Request, st: State) -> Response:
    # counted from arrival: a burst is seen while its deliveries are still being read, checked and parsed
    with st.handoff.arrivals.arriving() as ticket:
        return await _webhook(provider, request, st, ticket)


async def _webhook(provider: str, request: Request, st: State, ticket: Ticket) -> Response:
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
            # not an attack, so it is answered from the receipt log instead of refused
            connector.check_signature(raw, now)
        else:
            connector.verify(raw, now)
    except SignatureError as exc:
        log.info("webhook_rejected", provider=provider, reason=str(exc))
        raise HTTPException(401, f"signature rejected: {exc}") from None
    except PayloadError as exc:  # a signature header that is not even well-formed
        raise HTTPException(401, f"signature rejected: {exc}") from None
    except ValueError:
        raise HTTPException(401, "signature rejected: malformed signature headers") from None
    try:
        # in a thread: a connector may read the provider's API to complete an event (HubSpot meeting details)
        result = await on_edge(connector.parse, raw)
    except ValidationError as exc:  # str(exc) carries pydantic's input_value: where and what only
        return JSONResponse({"detail": safe_errors(exc.errors(include_input=False, include_url=False))
                             or "invalid payload"}, status_code=422)
    except PayloadError as exc:  # our own messages name the field, never its value
        raise HTTPException(422, f"invalid payload: {exc}") from None
    except ValueError:  # anything else may quote the input
        raise HTTPException(422, "invalid payload") from None
    try:
        # every address in canonical form before anything starts; an unreadable one refuses the delivery
        result = st.intake.normalise(result, st.cases)
    except AddressError as exc:
        raise HTTPException(422, f"invalid payload: {exc}") from None
    try:
        prepared = await st.intake.prepare(provider, connector, raw, result)
    except SignatureError as exc:  # a replay the signature alone could not tell apart
        log.info("webhook_rejected", provider=provider, reason=str(exc))
        raise HTTPException(401, f"signature rejected: {exc}") from None
    if prepared is None:
        ack, status = WebhookAck(duplicate=True), 200
    else:
        gate = request.app.state.temporal_gate
        wait = preferred_wait(request.headers.get("prefer"))
        try:
            ack, status = await st.handoff.receive(prepared, st.cases_or_none(), lambda: gate.is_up(st.client), wait,
                                                      ticket)
        except Backlogged:
            log.warning("webhook_backlogged", provider=provider)
            raise HTTPException(503, "too many deliveries are waiting; retry shortly",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
    if result.response is not None:
        if isinstance(result.response, str):
            return PlainTextResponse(result.response, media_type=result.response_media_type)
        return JSONResponse(result.response)
    applied = {"Preference-Applied": f"wait={wait:g}"} if prepared is not None and wait is not None else None
    return JSONResponse(ack.model_dump(mode="json"), status_code=status, headers=applied)


@router.get(
    "/webhooks/{provider}",
    responses={404: {"model": Problem}, 405: {"model": Problem}},
    summary="Answer a provider's URL validation ping (Mailchimp checks the URL with a GET when it is saved)",
)
async def webhook_validation(provider: str, st: State) -> Response:
    connector = st.connectors.get(provider)
    if connector is None:
        raise HTTPException(404, f"no webhook connector named {provider!r} is configured")
    if not getattr(unwrap(connector), "answers_validation_get", False):
        raise HTTPException(405, f"{provider} webhooks are POST only", headers={"Allow": "POST"})
    return JSONResponse({"ok": True})


def preferred_wait(prefer: str | None) -> float | None:
    """The seconds a `Prefer: wait=N` header (RFC 7240) asks to wait for the delivery's effects, at most
    MAX_PREFERRED_WAIT; None without one. Providers send none: a demo, a script or a test may ask to wait."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait" and value.strip().isdigit():
            return float(min(int(value.strip()), MAX_PREFERRED_WAIT))
    return None


# Mindbody checks a subscription's URL with a HEAD request before it activates it: a configured route answers it.
@router.head("/webhooks/{provider}", include_in_schema=False)
async def webhook_reachable(provider: str, st: State) -> Response:
    if st.connectors.get(provider) is None:
        raise HTTPException(404, f"no webhook connector named {provider!r} is configured")
    return Response(status_code=200)
