"""FHIR R4 resources turned into what the engine needs, and nothing more.

Each resource is validated with the `fhir.resources` models (R4B, whose Appointment, Slot and Patient match R4
4.0.1 for every element read here: https://hl7.org/fhir/R4/appointment.html, slot.html, patient.html) before a
field of it is used; one that does not validate is skipped and counted by type, never echoed.

`Appointment.status` (required binding, https://hl7.org/fhir/R4/valueset-appointmentstatus.html):
  noshow -> no_show; fulfilled, arrived, checked-in -> attended; cancelled -> cancelled (who cancelled from
  `cancelationReason` coded in http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason: `pat*` the
  patient, `prov*`, `maint`, `meds-inc`, `oth-room` the provider; anything else says nothing);
  entered-in-error -> cancelled (the appointment never stood); booked -> active; proposed, pending and waitlist
  are not bookings yet and start nothing.
Health data stays out: the engine gets the appointment id, its times, the Patient id (`fhir:<id>`), the first
Practitioner as owner and the Location, the type `appointment` (policies/health.py), and from the Patient only
its phone and email (`telecom`). `reasonCode`, `reasonReference`, `serviceType`, `serviceCategory`, `specialty`,
`appointmentType`, `description`, `comment` and `patientInstruction` are never read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.inbound import clip, contact_id_for, opt_dt
from connectors.sync import Snapshot, SnapshotStatus
from domain.models import Appointment, AttendanceSignal, Contact, SignalKind
from policies.health import minimal_type

SOURCE = "fhir"
CANCEL_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
ATTENDED = frozenset({"fulfilled", "arrived", "checked-in"})
NOT_YET = frozenset({"proposed", "pending", "waitlist"})
STATUSES = ATTENDED | NOT_YET | {"booked", "cancelled", "noshow", "entered-in-error"}
PROVIDER_CODES = frozenset({"maint", "meds-inc", "oth-room"})


def instant(value: Any) -> datetime | None:
    """An aware time from a model's instant / dateTime (a date-only or zone-less value is not an instant)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    return opt_dt(value) if isinstance(value, str) and "T" in value else None


def valid(resource: dict[str, Any]) -> Any | None:
    """The validated model of an Appointment, Slot or Patient, or None when it does not validate."""
    from pydantic import ValidationError

    kind = resource.get("resourceType")
    try:
        if kind == "Appointment":
            from fhir.resources.R4B.appointment import Appointment as FhirAppointment
            return FhirAppointment.model_validate(resource)
        if kind == "Slot":
            from fhir.resources.R4B.slot import Slot as FhirSlot
            return FhirSlot.model_validate(resource)
        if kind == "Patient":
            from fhir.resources.R4B.patient import Patient as FhirPatient
            return FhirPatient.model_validate(resource)
    except (ValidationError, ValueError, TypeError):
        return None
    return None


def reference_id(reference: str | None, kind: str) -> str | None:
    """`Patient/123` (or an absolute `https://.../Patient/123`, with or without `/_history/n`) -> `123`."""
    if not reference:
        return None
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
        return parts[-1][:64]
    return None


def actor_id(model: Any, kind: str) -> str | None:
    for participant in model.participant or []:
        actor = participant.actor
        found = reference_id(actor.reference if actor is not None else None, kind)
        if found:
            return found
    return None


def who_cancelled(model: Any) -> str | None:
    """`patient`, `provider` or None, from the coded cancellation reason only (its text may be clinical)."""
    reason = model.cancelationReason
    for coding in (reason.coding or []) if reason is not None else []:
        if coding.system != CANCEL_REASON_SYSTEM or not coding.code:
            continue
        code = str(coding.code)
        if code.startswith("pat"):
            return "patient"
        if code.startswith("prov") or code in PROVIDER_CODES:
            return "provider"
    return None


def snapshot_status(status: str) -> SnapshotStatus | None:
    if status == "noshow":
        return "no_show"
    if status in ATTENDED:
        return "attended"
    if status in ("cancelled", "entered-in-error"):
        return "cancelled"
    return "active" if status == "booked" else None


def patient_contact(patient_id: str, patient: dict[str, Any] | None) -> Contact:
    """The Patient as the engine's contact: the opaque id, a phone (mobile first) and an email from `telecom`."""
    phone = email = None
    model = valid(patient) if patient else None
    if model is not None:
        points = [t for t in model.telecom or [] if t.value]
        phones = sorted((t for t in points if t.system in ("phone", "sms")),
                        key=lambda t: (t.use != "mobile", t.rank or 99))
        emails = sorted((t for t in points if t.system == "email"), key=lambda t: t.rank or 99)
        phone = clip(phones[0].value, 32) if phones else None
        email = clip(emails[0].value, 254) if emails else None
    return Contact(contact_id=contact_id_for(SOURCE, None, provider_id=patient_id), phone=phone, email=email)


def appointment_snapshot(resource: dict[str, Any], contact: Contact, calendar_id: str) -> Snapshot | None:
    """The snapshot of a validated Appointment, or None when it is not a booking the engine manages (no patient,
    no times, or not booked yet)."""
    model = valid(resource)
    if model is None or not model.id:
        return None
    status = snapshot_status(str(model.status))
    start, end = instant(model.start), instant(model.end)
    if status is None or start is None:
        return None
    appointment = Appointment(source=SOURCE, appointment_id=str(model.id)[:200],
                              appointment_type=minimal_type(SOURCE, "appointment"), calendar_id=calendar_id,
                              owner_id=actor_id(model, "Practitioner"), location_id=actor_id(model, "Location"),
                              start=start, end=max(start, end or start), contact=contact)
    changed = changed_at(model) or start
    signal, note = None, None
    if status == "cancelled":
        who = who_cancelled(model) if model.status == "cancelled" else "provider"
        if who == "provider":
            signal = AttendanceSignal(kind=SignalKind.cancellation, at=changed, source=SOURCE, value="business",
                                      participant="host")
            note = "cancelled by the provider" if model.status == "cancelled" else "entered in error"
        elif who == "patient":
            signal = AttendanceSignal(kind=SignalKind.cancellation, at=changed, source=SOURCE, participant="guest")
            note = "cancelled by the patient"
    return Snapshot(appointment=appointment, status=status, changed_at=changed, note=note, signal=signal)


def changed_at(model: Any) -> datetime | None:
    meta = model.meta
    return instant(meta.lastUpdated) if meta is not None else None


def patient_of(resource: dict[str, Any]) -> str | None:
    model = valid(resource)
    return actor_id(model, "Patient") if model is not None else None
