"""Operations: health for load balancers and probes, and the webhook event types nobody handles yet."""

from __future__ import annotations

from fastapi import APIRouter

from connectors.local.webhook_receipts import UnknownType
from workers.api.deps import Admin, State
from workers.api.models import Health

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health, summary="Temporal reachable and the policy loadable")
async def health(st: State) -> Health:
    ok = False
    if st.client is not None:
        try:
            await st.client.service_client.check_health()
            ok = True
        except Exception:
            ok = False
    try:
        version: str | None = st.deps.policy().version
    except Exception:
        version = None
    return Health(status="ok" if ok and version else "degraded", temporal=ok, policy_version=version)


@router.get("/ops/unknown-event-types", response_model=list[UnknownType],
            summary="Webhook event types no connector handles yet: acknowledged to the provider, counted here")
def unknown_event_types(st: State, _: Admin) -> list[UnknownType]:
    return st.intake.unknown_types.all()
