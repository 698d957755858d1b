"""contract.CalendarConnector over a FHIR Schedule: availability from its free Slots, booking by creating an
Appointment on a Slot, cancellation and the no-show mark by patching the Appointment's status.

- Availability: `GET [base]/Slot?schedule=Schedule/{id}&status=free&start=ge<from>&start=lt<to>`
  (https://hl7.org/fhir/R4/slot.html#search); anything outside the free Slots is busy. Holds are local
  (connectors/local_holds.py): FHIR has none.
- Booking: the time is looked up again among the free Slots, then `POST [base]/Appointment` with `status: booked`,
  the `slot` reference, the Patient (and the Slot's practitioner) as accepted participants, and an `identifier`
  in our own system carrying the booking's marker, so a retry whose create got no answer, or whose Slot is gone,
  finds its own appointment (`GET [base]/Appointment?identifier=<system>|<marker>`) instead of booking twice. A
  409 / 412 / 422 with an OperationOutcome is read as "taken" (https://hl7.org/fhir/R4/http.html#concurrency).
  Nothing of the appointment type goes to the server: it names no service or reason.
- Cancel / no-show: `PATCH [base]/Appointment/{id}` JSON Patch on `/status` with `If-Match` of the version read
  first (Oracle Health documents status updates and their transitions:
  https://docs.oracle.com/en/industries/health/millennium-platform-apis/mfrap/api-appointment.html).
UNVERIFIED: whether Epic accepts `POST Appointment` or `PATCH` from a backend app at all (Epic documents its own
`Appointment/$find` and `$book` operations, https://fhir.epic.com/Specifications, whose R4 availability for
backend apps could not be confirmed: they are not built here); Oracle Health's exact status-update request
(JSON Patch assumed from its Slot patch, https://docs.oracle.com/en/industries/health/millennium-platform-apis/
mfrap/op-slot-id-patch.html) and whether `booked -> noshow` is an allowed transition there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.contract import BusyInterval, PermanentProviderError
from connectors.fhir.client import FhirClient
from connectors.fhir.resources import SOURCE, instant, valid
from connectors.fhir.source import fhir_instant
from connectors.local.remote_creates import marker
from connectors.local_holds import LocalHolds
from connectors.writeback import busy_from_free, create_once, own_or_unavailable, pick_calendar
from domain.models import Slot

BOOKING_SYSTEM = "urn:noshow-recovery:booking"
TAKEN = {"409", "412", "422", "conflict", "duplicate", "business-rule"}


def fhir_patient(contact_id: str) -> str | None:
    own = contact_id.removeprefix(f"{SOURCE}:") if contact_id.startswith(f"{SOURCE}:") else ""
    return own if own and len(own) <= 64 and all(c.isalnum() or c in "-." for c in own) else None


class FhirCalendar:
    name = SOURCE

    def __init__(self, client: FhirClient, schedule_id: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.schedule_id, self.clock = client, schedule_id, clock
        self.holds = LocalHolds()

    def calendar(self, calendar_id: str) -> str:
        # an appointment's calendar id is not a Schedule (Appointment names none): rebook on the configured one
        return pick_calendar(self.name, calendar_id, lambda _c: False, self.schedule_id, "NOSHOW_FHIR_SCHEDULE_ID")

    def free_slots(self, schedule: str, start: datetime, end: datetime) -> list[tuple[str, Slot]]:
        found: list[tuple[str, Slot]] = []
        for resource in self.client.search("Slot", {"schedule": f"Schedule/{schedule}", "status": "free",
                                                    "start": [f"ge{fhir_instant(start)}", f"lt{fhir_instant(end)}"]}):
            model = valid(resource)
            at, until = (instant(model.start), instant(model.end)) if model is not None else (None, None)
            if model is None or not model.id or at is None or until is None or model.status != "free":
                continue
            found.append((str(model.id), Slot(start=at, end=until, calendar_id=schedule)))
        return found

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyInterval]:
        free = [slot for _, slot in self.free_slots(self.calendar(calendar_id), start, end)]
        return busy_from_free(free, start, end) + self.holds.busy(calendar_id, start, end, self.clock())

    def hold(self, slot: Slot, case_id: str, expires_at: datetime) -> Slot:
        return self.holds.hold(slot, case_id, expires_at, self.clock())

    def _own(self, tag: str) -> str | None:
        for resource in self.client.search("Appointment", {"identifier": f"{BOOKING_SYSTEM}|{tag}"}):
            if resource.get("status") not in ("cancelled", "entered-in-error") and resource.get("id"):
                return str(resource["id"])
        return None

    def book(self, slot: Slot, case_id: str, appointment_type: str, contact_id: str, idempotency_key: str) -> str:
        patient = fhir_patient(contact_id)
        if patient is None:
            raise PermanentProviderError("fhir: the customer is not a FHIR Patient", code="no_contact")
        schedule, tag = self.calendar(slot.calendar_id), marker(idempotency_key)
        chosen = next((sid for sid, free in self.free_slots(schedule, slot.start, slot.end)
                       if free.start == slot.start), None)
        if chosen is None:
            return own_or_unavailable(lambda: self._own(tag), "fhir: the time is no longer a free Slot")
        participants: list[dict[str, Any]] = [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}]
        if slot.owner_id:
            participants.append({"actor": {"reference": f"Practitioner/{slot.owner_id}"}, "status": "accepted"})
        body = {"resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{chosen}"}],
                "start": fhir_instant(slot.start), "end": fhir_instant(slot.end), "participant": participants,
                "identifier": [{"system": BOOKING_SYSTEM, "value": tag}]}
        made = create_once(lambda: str(self.client.create(body)["id"]), lambda: self._own(tag), self._taken, "fhir")
        self.holds.release(case_id)
        return made

    @staticmethod
    def _taken(exc: PermanentProviderError) -> bool:
        return exc.code in TAKEN or "HTTP 409" in str(exc) or "HTTP 412" in str(exc)

    def release(self, case_id: str) -> None:
        self.holds.release(case_id)

    def set_status(self, appointment_id: str, status: str) -> bool:
        """False when the appointment is gone (404 / 410); idempotent."""
        try:
            current = self.client.read("Appointment", appointment_id)
            if current.get("status") == status:
                return True
            meta = current.get("meta")
            version = meta.get("versionId") if isinstance(meta, dict) else None
            self.client.patch_status("Appointment", appointment_id, status, str(version) if version else None)
        except PermanentProviderError as exc:
            if exc.code in ("404", "410", "not-found", "deleted") or "HTTP 404" in str(exc) or "HTTP 410" in str(exc):
                return False
            raise
        return True

    def cancel(self, calendar_id: str, appointment_id: str, reason: str | None = None) -> None:
        self.set_status(appointment_id, "cancelled")

    def mark_no_show(self, appointment_id: str, contact: object) -> bool:
        return self.set_status(appointment_id, "noshow")


