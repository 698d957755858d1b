"""The event types the generic signed route (`/webhooks/events`, Standard Webhooks) accepts, and the JSON Schema of
each envelope (https://json-schema.org/draft/2020-12/schema), built from the same models the route validates
with, so the published schema cannot drift from what is accepted."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.models import AppointmentEvent, EventType

MISSED_CALL_TYPE = "phone.call_missed"
# a phone system's booking news: the same data as the appointment event it stands for
PHONE_EVENT_TYPES: dict[str, str] = {
    "phone.booking": EventType.booked.value,
    "phone.cancellation": EventType.cancelled.value,
}
SCHEMA_BASE = "https://noshow.example.com/schemas/events/"


class MissedCallData(BaseModel):
    """`data` of a `phone.call_missed` event: a customer's call nobody answered."""

    model_config = ConfigDict(extra="ignore")

    caller: str = Field(min_length=3, max_length=64, description="the caller's phone number, E.164 preferred")
    call_id: str | None = Field(default=None, min_length=1, max_length=200,
                                description="the phone system's call id (defaults to the webhook-id)")
    status: str = Field(default="no-answer", max_length=40, description="no-answer, busy, voicemail, ...")
    occurred_at: AwareDatetime | None = Field(default=None, description="when the call rang (ISO 8601 with offset)")
    source: str = Field(default="phone", max_length=64, description="the phone system's name")


class AppointmentEventData(AppointmentEvent):
    """`data` of an appointment event: `type` comes from the envelope, `event_id` defaults to the webhook-id and
    `occurred_at` to the envelope's timestamp."""

    event_id: str = Field(default="", max_length=200)
    type: EventType = Field(default=EventType.booked, description="ignored: the envelope's type decides")
    occurred_at: AwareDatetime | None = None  # type: ignore[assignment]


def event_types() -> list[str]:
    return sorted([*(t.value for t in EventType), *PHONE_EVENT_TYPES, MISSED_CALL_TYPE])


def schema_for(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event type's envelope; KeyError for a type the route does not accept."""
    if event_type not in event_types():
        raise KeyError(event_type)
    data = (MissedCallData if event_type == MISSED_CALL_TYPE else AppointmentEventData).model_json_schema(
        ref_template="#/$defs/{model}")
    defs = data.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{event_type}.json",
        "title": event_type,
        "description": "The body of a Standard Webhooks delivery to /webhooks/events (https://www.standardwebhooks.com/)",
        "type": "object",
        "required": ["type", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data,
        },
        "$defs": defs,
    }
