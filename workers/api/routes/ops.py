"""Operations: liveness (`/health`) and readiness (`/ready`) for load balancers and probes, the webhook event
types nobody handles yet, and the webhook hand-off queue (what waits, what keeps failing, a retry for it).

`/health` never touches Temporal or the store, so a hanging dependency cannot make a prober restart a healthy
process; `/ready` checks both, each within a bounded wait, and answers 503 when either is down.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from connectors.local.intake_queue import IntakeStats
from connectors.local.webhook_receipts import UnknownType
from workers.api.deps import Admin, State
from workers.api.models import Health, Problem, Readiness

router = APIRouter(tags=["ops"])


class IntakeRetried(BaseModel):
    intake_id: str
    status: str = "pending"


@router.get("/health", response_model=Health, summary="Liveness: the API process answers")
async def health() -> Health:
    return Health()


def _store_ok(st: State) -> bool:
    try:
        with st.deps.db.connect() as conn:
            conn.execute("SELECT 1").fetchone()
        return True
    except Exception:
        return False


async def _temporal_ok(st: State) -> bool:
    if st.client is None:
        return False
    try:
        await asyncio.wait_for(st.client.service_client.check_health(), st.settings.api.temporal_wait_seconds)
        return True
    except Exception:
        return False


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}},
            summary="Readiness: Temporal reachable, the store writable, the policy loadable")
async def ready(st: State) -> JSONResponse:
    wait = st.settings.api.temporal_wait_seconds
    temporal = await _temporal_ok(st)
    try:
        store = await asyncio.wait_for(asyncio.to_thread(_store_ok, st), wait)
    except TimeoutError:
        store = False
    try:
        version: str | None = st.deps.policy().version
    except Exception:
        version = None
    ok = temporal and store and version is not None
    body = Readiness(status="ok" if ok else "degraded", temporal=temporal, store=store, policy_version=version)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503,
                        headers=None if ok else {"Retry-After": "5"})


@router.get("/ops/unknown-event-types", response_model=list[UnknownType],
            summary="Webhook event types no connector handles yet: acknowledged to the provider, counted here")
def unknown_event_types(st: State, _: Admin) -> list[UnknownType]:
    return st.intake.unknown_types.all()


@router.get("/ops/intake", response_model=IntakeStats,
            summary="The webhook hand-off queue: deliveries waiting, in flight and failing, and the oldest's age")
def intake(st: State, _: Admin) -> IntakeStats:
    return st.handoff.queue.stats(datetime.now(UTC))


@router.post("/ops/intake/{intake_id}/retry", response_model=IntakeRetried, responses={404: {"model": Problem}},
             summary="Try a delivery that kept failing again now")
def retry_intake(intake_id: Annotated[str, Path(max_length=64)], st: State, who: Admin) -> IntakeRetried:
    if not st.handoff.queue.requeue(intake_id, datetime.now(UTC)):
        raise HTTPException(404, "no failed delivery with that id")
    st.deps.reviews.audit(who.identity, "intake.retry", None, {"intake_id": intake_id})
    return IntakeRetried(intake_id=intake_id)
