"""Offering, holding and booking slots in live availability. A lost race re-offers; nothing double-books."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity

from activities.clock import activity_now
from connectors.contract import SlotUnavailable
from connectors.local.calendar import LocalCalendar
from domain.backfill import FreedSlot
from domain.case import BookRequest, BookResult, Offer, OfferRequest
from domain.links import sign_link
from domain.models import LedgerEvent, Slot
from policies import rebooking as rebooking_policy
from policies import slot_preference

SLOT_SEARCH_DEPTH = 100


def minutes_to_rebook(missed_end: datetime, opened_at: datetime | None, now: datetime) -> float:
    """From the moment the need arose: the missed appointment's end, or the case's start when that is later
    (a reschedule request or a cancellation ahead of time)."""
    since = max(missed_end, opened_at) if opened_at else missed_end
    return round(max((now - min(since, now)).total_seconds(), 0.0) / 60, 1)


class SchedulingActivities:
    def __init__(self, calendar: LocalCalendar, ledger: Any, link_secret: str, public_base_url: str,
                 clock: Callable[[], datetime] = activity_now,
                 on_freed: Callable[[FreedSlot], Awaitable[object]] | None = None) -> None:
        self.calendar = calendar
        self.on_freed = on_freed
        self.ledger = ledger
        self.link_secret = link_secret
        self.public_base_url = public_base_url.rstrip("/")
        self.clock = clock

    @activity.defn(name="offer_slots")
    def offer_slots(self, req: OfferRequest) -> Offer:
        rules = req.resolved.program.rebooking
        now = self.clock()
        appt = req.appointment
        # a retried offer replaces this case's earlier holds instead of stacking new ones
        self.calendar.release(req.case_id)
        busy = self.calendar.busy(appt.calendar_id, now, now + timedelta(days=rules.horizon_days + 1),
                                  exclude_case=req.case_id)
        duration = max(int((appt.end - appt.start).total_seconds() // 60), 5)
        candidates = rebooking_policy.candidate_slots(rebooking_policy.SlotSearch(
            now=now, duration_minutes=duration, rules=rules,
            busy=[rebooking_policy.Interval(start=b.start, end=b.end) for b in busy],
            # cases offering on one calendar at once all read the same free times before any holds them: look far
            # enough down the list that losing every race for the first few still leaves slots to offer
            limit=max(rules.offer_count * 4, SLOT_SEARCH_DEPTH * (4 if req.preference else 1)),
        ))
        # the slots that answer the customer's request first, nearest first; the rest after them as spares for
        # lost races
        order, matches = slot_preference.choose([s for s, _ in candidates], req.preference, len(candidates))
        candidates = [candidates[i] for i in order]
        expires = now + timedelta(minutes=rules.hold_minutes)
        # the program's prep and buffer, checked again by the hold and by the booking of that hold
        before = timedelta(minutes=rules.prep_minutes + rules.buffer_minutes)
        after = timedelta(minutes=rules.buffer_minutes)
        held: list[Slot] = []
        for start, end in candidates:
            if start in req.exclude:
                continue
            try:
                held.append(self.calendar.hold(
                    Slot(start=start, end=end, calendar_id=appt.calendar_id, owner_id=appt.owner_id),
                    req.case_id, expires, before=before, after=after,
                ))
            except SlotUnavailable:
                continue
            if len(held) >= rules.offer_count:
                break
        link = None
        if held:
            token = sign_link(self.link_secret, req.case_id, req.attempt, expires)
            link = f"{self.public_base_url}/book/{token}"
        matches = matches and (req.preference is None or all(req.preference.fits(s.start) for s in held))
        return Offer(slots=held, booking_link=link, expires_at=expires, matches_request=matches)

    @activity.defn(name="book_slot")
    def book_slot(self, req: BookRequest) -> BookResult:
        appt = req.appointment
        try:
            appointment_id = self.calendar.book(
                req.slot, req.case_id, appt.appointment_type, appt.contact.contact_id,
                idempotency_key=f"{req.case_id}-book-{req.attempt}-{req.slot.start.isoformat()}",
            )
        except SlotUnavailable as exc:
            return BookResult(booked=False, reason=str(exc))
        now = self.clock()
        self.ledger.append(LedgerEvent(
            event_id=f"{req.case_id}:rebooked", case_id=req.case_id, type="rebooked", at=now, source=appt.source,
            appointment_type=appt.appointment_type, owner_id=appt.owner_id, location_id=appt.location_id,
            value=appt.value, data={"minutes_to_rebook": minutes_to_rebook(appt.end, req.opened_at, now)},
        ))
        return BookResult(booked=True, appointment_id=appointment_id, reason="booked")

    @activity.defn(name="cancel_booking")
    async def cancel_booking(self, req: BookRequest) -> None:
        """Free a booking this case made (the customer moved or cancelled it); idempotent. The freed time goes
        to whoever waits for it (a retried cancel joins the same backfill)."""
        freed = await asyncio.to_thread(self._cancel, req)
        if freed is not None and self.on_freed is not None:
            await self.on_freed(freed)

    def _cancel(self, req: BookRequest) -> FreedSlot | None:
        appt = req.appointment
        booked = self.calendar.appointment(appt.appointment_id)
        if booked is None or booked.get("case_id") != req.case_id:
            return None
        self.calendar.set_status(appt.appointment_id, "cancelled")
        # the calendar's row has the booked time; the request carries the missed appointment's details
        return FreedSlot(calendar_id=str(booked["calendar_id"]), start=datetime.fromisoformat(str(booked["start_at"])),
                         end=datetime.fromisoformat(str(booked["end_at"])), owner_id=booked.get("owner_id"),
                         appointment_type=str(booked["appointment_type"]), source=appt.source,
                         location_id=appt.location_id, value=appt.value, freed_by="cancellation")

    @activity.defn(name="release_holds")
    def release_holds(self, case_id: str) -> None:
        self.calendar.release(case_id)
