"""Reading attendance evidence from the systems of record."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from connectors.local.calendar import LocalCalendar
from connectors.local.verdicts import VerdictLog
from domain.case import Evidence, EvidenceRequest
from domain.models import AttendanceSignal, SignalKind


class AttendanceActivities:
    def __init__(self, calendar: LocalCalendar, verdicts: VerdictLog) -> None:
        self.calendar = calendar
        self.verdicts = verdicts

    @activity.defn(name="gather_evidence")
    def gather_evidence(self, req: EvidenceRequest) -> Evidence:
        signals: list[AttendanceSignal] = []
        for row in self.calendar.attendance(req.appointment.appointment_id):
            try:
                kind = SignalKind(str(row["kind"]))
            except ValueError:
                continue  # a signal kind this version does not know is not evidence
            joined = row["joined"]
            signals.append(AttendanceSignal(
                kind=kind,
                at=datetime.fromisoformat(str(row["at"])),
                source=str(row["source"]),
                value=row["value"] if row["value"] is None else str(row["value"]),
                joined=None if joined is None else bool(joined),
                minutes=None if row["minutes"] is None else float(str(row["minutes"])),  # a REAL column
                participant=str(row["participant"]),
            ))
        appt = self.calendar.appointment(req.appointment.appointment_id)
        if appt and appt["status"] in ("attended", "no_show", "cancelled"):
            signals.append(AttendanceSignal(kind=SignalKind.scheduler_status, at=req.appointment.end,
                                            source="local_calendar", value=str(appt["status"])))
        prior = self.verdicts.prior_no_shows(req.contact_key, req.case_id, req.appointment.start,
                                            req.repeat_window_days)
        return Evidence(signals=signals, prior_no_shows=prior)
