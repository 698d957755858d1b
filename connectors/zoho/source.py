"""Zoho CRM meetings (module `Events`) as reconcile snapshots, polled with `If-Modified-Since`, and the watch
channel kept open on the same Schedule.

Fields (https://www.zoho.com/crm/developer/docs/api/v7/get-records.html; the Events field names `Event_Title`,
`Start_DateTime`, `End_DateTime`, `Participants`, `Who_Id`, `Owner`, `Modified_Time` are UNVERIFIED beyond the
response samples): a meeting's customer is its first contact or lead participant (or `Who_Id`), whose phone is
read from the Contacts / Leads record. Zoho meetings have no attendance status: an outcome field, when
configured (NOSHOW_ZOHO_OUTCOME_FIELD), gives no-show / attended / cancelled; a deleted meeting
(`/Events/deleted`) is cancelled.

`ZohoChannelKeeper` opens the notification channel (`Events.all`) and renews it a day before it expires; a
channel lasts at most a week (https://www.zoho.com/crm/developer/docs/api/v7/notifications/enable.html). The
keeper runs inside the reconcile poll, so the Schedule that covers lost notifications also keeps them coming.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import ProviderError
from connectors.inbound import UNKNOWN_TYPE, clip, contact_id_for, dict_at, opt_dt
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from connectors.zoho.client import ZohoClient, zoho_time
from domain.models import Appointment, Contact

log = structlog.get_logger(__name__)

EVENT_FIELDS = ["Event_Title", "Start_DateTime", "End_DateTime", "Owner", "Participants", "Who_Id", "Modified_Time"]
PERSON_FIELDS = ["Full_Name", "Email", "Phone", "Mobile"]
WORDS: dict[str, SnapshotStatus] = {
    "no_show": "no_show", "no show": "no_show", "noshow": "no_show", "no-show": "no_show", "missed": "no_show",
    "attended": "attended", "completed": "attended", "showed": "attended",
    "cancelled": "cancelled", "canceled": "cancelled"}


def person_contact_id(source: str, module: str, record_id: str) -> str:
    """`zoho:<id>` for a Contact, `zoho:lead-<id>` for a Lead: the CRM adapter reads the module back from it."""
    return contact_id_for(source, None, provider_id=record_id if module == "Contacts" else f"lead-{record_id}")


class ZohoChannelKeeper:
    def __init__(self, client: ZohoClient, channel_id: int, token: str, notify_url: str,
                 lifetime: timedelta = timedelta(days=7) - timedelta(hours=1),
                 renew_before: timedelta = timedelta(days=1)) -> None:
        self.client, self.channel_id, self.token, self.notify_url = client, channel_id, token, notify_url
        self.lifetime, self.renew_before = lifetime, renew_before
        self.expires_at: datetime | None = None  # what this process last saw; Zoho is asked when unknown

    def maintain(self, now: datetime) -> datetime:
        if self.expires_at is None:
            mine = [w for w in self.client.watching() if str(w.get("channel_id")) == str(self.channel_id)]
            self.expires_at = opt_dt(mine[0].get("channel_expiry")) if mine else None
            exists = bool(mine)
        else:
            exists = True
        if self.expires_at is not None and self.expires_at - self.renew_before > now:
            return self.expires_at
        expiry = now + self.lifetime
        separator = "&" if "?" in self.notify_url else "?"
        self.client.watch({"channel_id": self.channel_id, "events": ["Events.all"], "token": self.token,
                           "channel_expiry": zoho_time(expiry), "return_affected_field_values": False,
                           "notify_url": f"{self.notify_url}{separator}token={self.token}"}, replace=exists)
        self.expires_at = expiry
        return expiry


class ZohoSource:
    """Cursor = ISO time of the last meeting change seen."""

    def __init__(self, client: ZohoClient, source: str = "zoho", outcome_field: str | None = None,
                 keeper: ZohoChannelKeeper | None = None, first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.source, self.outcome_field = client, source, outcome_field
        self.keeper, self.first_lookback = keeper, first_lookback

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        if self.keeper is not None:
            try:
                self.keeper.maintain(now)
            except ProviderError as exc:  # the poll still covers what a closed channel would have said
                log.warning("zoho_channel_upkeep_failed", error=type(exc).__name__, code=getattr(exc, "code", None))
        resumed = opt_dt(cursor) if cursor else None
        # If-Modified-Since keeps what changed strictly after a whole second: a meeting changed later within the
        # cursor's own second would be skipped for ever, so a resumed poll looks one second back (the differ
        # drops what it already saw)
        since = resumed - timedelta(seconds=1) if resumed else now - self.first_lookback
        fields = EVENT_FIELDS + ([self.outcome_field] if self.outcome_field else [])
        rows = self.client.records("Events", fields, modified_since=since)
        people: dict[tuple[str, str], dict[str, Any]] = {}
        snaps = [s for s in (self.snapshot(r, people) for r in rows) if s is not None]
        for gone in self.client.deleted("Events", since):
            at = opt_dt(gone.get("deleted_time")) or now
            if gone.get("id"):
                snaps.append(Snapshot(status="cancelled", changed_at=at, appointment=Appointment(
                    source=self.source, appointment_id=str(gone["id"])[:200], appointment_type=UNKNOWN_TYPE,
                    start=at, end=at, contact=Contact(contact_id=contact_id_for(self.source, None,
                                                                                fallback=str(gone["id"]))))))
        latest = max([s.changed_at for s in snaps], default=resumed or since)
        return SyncPage(snapshots=snaps, cursor=latest.astimezone(UTC).isoformat())

    def _person(self, row: dict[str, Any]) -> tuple[str, str] | None:
        for p in row.get("Participants") or []:
            if isinstance(p, dict) and p.get("type") in ("contact", "lead") and p.get("participant"):
                return ("Contacts" if p["type"] == "contact" else "Leads"), str(p["participant"])
        who = dict_at(row, "Who_Id")
        return ("Contacts", str(who["id"])) if who.get("id") else None

    def snapshot(self, row: dict[str, Any], people: dict[tuple[str, str], dict[str, Any]]) -> Snapshot | None:
        start, record_id = opt_dt(row.get("Start_DateTime")), clip(row.get("id"), 200)
        person = self._person(row)
        if start is None or not record_id or person is None:
            return None  # an internal meeting: nobody to recover
        if person not in people:
            try:
                people[person] = self.client.get(person[0], person[1], PERSON_FIELDS)
            except ProviderError as exc:
                log.info("zoho_participant_unreadable", error=type(exc).__name__)
                people[person] = {}
        found = people[person]
        contact = Contact(contact_id=person_contact_id(self.source, *person),
                          name=clip(found.get("Full_Name"), 200), email=clip(found.get("Email"), 254),
                          phone=clip(found.get("Mobile") or found.get("Phone"), 32))
        end = opt_dt(row.get("End_DateTime")) or start
        owner = dict_at(row, "Owner").get("id")
        word = str(row.get(self.outcome_field) or "").strip().lower() if self.outcome_field else ""
        appointment = Appointment(source=self.source, appointment_id=record_id, appointment_type="meeting",
                                  calendar_id="Events", owner_id=clip(owner, 200), start=start, end=max(start, end),
                                  contact=contact)
        return Snapshot(appointment=appointment, status=WORDS.get(word, "active"),
                        changed_at=opt_dt(row.get("Modified_Time")) or start)
