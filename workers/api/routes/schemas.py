"""The JSON Schema of each event type `/webhooks/events` accepts. Public like `/health`: a schema holds no data,
and a form tool's relay or a phone system's integrator reads it before they hold any credential."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from connectors.event_schemas import event_types, schema_for
from workers.api.models import Problem

router = APIRouter(tags=["schemas"])


@router.get("/schemas/events", summary="The event types /webhooks/events accepts")
async def list_event_types() -> dict[str, list[str]]:
    return {"types": event_types()}


@router.get("/schemas/events/{event_type}.json", summary="The JSON Schema of one event type's body",
            responses={404: {"model": Problem, "description": "no such event type"}})
async def event_schema(event_type: Annotated[str, Path(max_length=64, pattern=r"^[a-z_]+\.[a-z_]+$")]
                       ) -> dict[str, Any]:
    try:
        return schema_for(event_type)
    except KeyError:
        raise HTTPException(404, "no such event type") from None
