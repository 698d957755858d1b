"""Conformance cases for the write-back calls the calendar and CRM adapters add (tests/connectors/kit.py):
booking, cancelling and the CRM look-ups, each through the same error mapping as every other client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.calcom.client import CalcomClient
from connectors.calendly.client import CalendlyClient
from connectors.google.client import GoogleCalendarClient
from connectors.hubspot.client import HubSpotClient
from connectors.outlook.client import OutlookClient
from domain.models import Contact
from tests.connectors.kit import OutboundCase
from tests.fakes.providers import FakeCalcom, FakeCalendly, FakeGoogleCalendar, FakeGraph, FakeHubSpot

START = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
ET = "https://api.calendly.com/event_types/ET789"
JANE = Contact(contact_id="calcom:ak-jane", name="Jane Doe", email="jane@example.com")


def _calcom() -> FakeCalcom:
    fake = FakeCalcom()
    fake.free = [START]
    return fake


def _calendly() -> FakeCalendly:
    fake = FakeCalendly()
    fake.available = [START]
    return fake


def _google() -> FakeGoogleCalendar:
    fake = FakeGoogleCalendar()
    fake.events["evt1"] = {"id": "evt1", "status": "confirmed"}
    return fake


def _graph() -> FakeGraph:
    fake = FakeGraph()
    fake.events["AAMk1"] = {"id": "AAMk1", "isCancelled": False}
    return fake


def _hubspot() -> FakeHubSpot:
    fake = FakeHubSpot()
    fake.objects["meetings"]["987654"] = {"properties": {"hs_meeting_start_time": "2026-01-06T14:00:00Z"}}
    return fake


def outbound_cases() -> list[OutboundCase]:
    return [
        OutboundCase(
            name="calcom-create-booking", fake=_calcom,
            call=lambda url, t: CalcomClient("cal_test", base_url=url + "/v2", timeout=t).create_booking(
                7, START, JANE),
            path_contains="/v2/bookings",
            error_body=lambda s: {"status": "error", "error": {
                "code": "BadRequestException" if s == 400 else "NotFoundException", "message": "x"}},
            expected_code=lambda s: "BadRequestException" if s == 400 else "NotFoundException",
        ),
        OutboundCase(
            name="calendly-create-invitee", fake=_calendly,
            call=lambda url, t: CalendlyClient("tok", base_url=url, timeout=t).create_invitee(
                ET, START, "jane@example.com", "Jane Doe"),
            path_contains="/invitees",
            error_body=lambda s: {"title": "Invalid Argument" if s == 400 else "Resource Not Found", "message": "x"},
            expected_code=lambda s: "Invalid Argument" if s == 400 else "Resource Not Found",
        ),
        OutboundCase(
            name="google-cancel-event", fake=_google,
            call=lambda url, t: GoogleCalendarClient("ya29.t", base_url=url + "/calendar/v3", timeout=t).patch_event(
                "ops@example.org", "evt1", {"status": "cancelled"}),
            path_contains="/events/evt1",
            error_body=lambda s: {"error": {"errors": [{"domain": "global", "reason":
                                                        "badRequest" if s == 400 else "notFound"}], "code": s}},
            expected_code=lambda s: "badRequest" if s == 400 else "notFound",
        ),
        OutboundCase(
            name="outlook-cancel-event", fake=_graph,
            call=lambda url, t: OutlookClient("eyJ.t", base_url=url + "/v1.0", timeout=t).cancel_event(
                "ops@example.org", "AAMk1", "customer cancelled"),
            path_contains="/events/AAMk1/cancel",
            error_body=lambda s: {"error": {"code": "ErrorInvalidRequest" if s == 400 else "ErrorItemNotFound",
                                            "message": "x"}},
            expected_code=lambda s: "ErrorInvalidRequest" if s == 400 else "ErrorItemNotFound",
        ),
        OutboundCase(
            name="hubspot-find-contact", fake=FakeHubSpot,
            call=lambda url, t: HubSpotClient("pat", base_url=url, timeout=t).find_one(
                "contacts", "email", "jane@example.com", ["email"]),
            path_contains="/crm/v3/objects/contacts/search",
            error_body=lambda s: {"status": "error", "message": "x", "correlationId": "c",
                                  "category": "VALIDATION_ERROR" if s == 400 else "OBJECT_NOT_FOUND"},
            expected_code=lambda s: "VALIDATION_ERROR" if s == 400 else "OBJECT_NOT_FOUND",
        ),
        OutboundCase(
            name="hubspot-meeting-details", fake=_hubspot,
            call=lambda url, t: HubSpotClient("pat", base_url=url, timeout=t).get_object_with_associations(
                "meetings", "987654", ["hs_meeting_start_time"], ["contacts"]),
            path_contains="/crm/v3/objects/meetings/987654",
            error_body=lambda s: {"status": "error", "message": "x", "correlationId": "c",
                                  "category": "VALIDATION_ERROR" if s == 400 else "OBJECT_NOT_FOUND"},
            expected_code=lambda s: "VALIDATION_ERROR" if s == 400 else "OBJECT_NOT_FOUND",
        ),
    ]
