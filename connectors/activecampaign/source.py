"""ActiveCampaign deals in a missed stage as reconcile snapshots, for the webhooks ActiveCampaign never retries.

ActiveCampaign has no appointment object: a no-show is a deal moved to one of the configured missed stages
(titles or ids, NOSHOW_ACTIVECAMPAIGN_MISSED_STAGES), as on the webhook path (connectors/activecampaign/inbound.py).
Each poll resolves the stage titles to ids (`GET /api/3/dealStages`), lists each stage's deals changed since the
cursor (`GET /api/3/deals` with `filters[stage]` and `filters[updated_after]`, connectors/activecampaign/client.py
cites the pages) and reads each deal's contact once (`GET /api/3/contacts/{id}`).

Every deal found is the snapshot the webhook would have produced: appointment `deal-<id>`, contact
`activecampaign:<contact id>`, status no_show, at the deal's `mdate`; so a deal whose webhook did arrive lands on
the same case. Deals that leave a missed stage are not listed (a stage filter cannot say what left it).
Cursor = ISO time of the last deal change seen, never later than a minute before the poll: `updated_after` is
inclusive, so re-reading the boundary is harmless (the index remembers what was seen) and a change written
while the pages were read is read again on the next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.activecampaign.client import ActiveCampaignClient
from connectors.contract import PermanentProviderError
from connectors.inbound import clip, contact_id_for, opt_dt
from connectors.sync import Snapshot, SyncPage
from domain.models import Appointment, Contact

log = structlog.get_logger(__name__)

OVERLAP = timedelta(minutes=1)


def deal_snapshot(source: str, deal: dict[str, Any], person: dict[str, Any]) -> Snapshot | None:
    """A listed deal (already known to be in a missed stage) as the no-show its webhook announces."""
    deal_id, changed = clip(deal.get("id"), 100), opt_dt(deal.get("mdate"))
    if not deal_id or changed is None:
        return None
    name = f"{person.get('firstName') or ''} {person.get('lastName') or ''}".strip()
    contact = Contact(contact_id=contact_id_for(source, None, provider_id=clip(deal.get("contact"), 100),
                                                fallback=deal_id),
                      name=clip(name, 200), email=clip(person.get("email"), 254), phone=clip(person.get("phone"), 32))
    appointment = Appointment(source=source, appointment_id=f"deal-{deal_id}", appointment_type="deal",
                              calendar_id="deals", owner_id=clip(deal.get("owner"), 200), start=changed, end=changed,
                              contact=contact)
    return Snapshot(appointment=appointment, status="no_show", changed_at=changed,
                    note="ActiveCampaign deal found in a missed stage by reconciliation")


class ActiveCampaignSource:
    """Cursor = ISO time of the last deal change seen (see the module docstring)."""

    def __init__(self, client: ActiveCampaignClient, missed_stages: Iterable[str] = ("Missed",),
                 source: str = "activecampaign", first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.source, self.first_lookback = client, source, first_lookback
        self.missed = {s.strip().lower() for s in missed_stages if s.strip()}

    def stage_ids(self) -> list[str]:
        """The ids of the configured missed stages: a configured id as given, a title looked up."""
        found = {str(s["id"]) for s in self.client.deal_stages() if s.get("id") is not None and (
            str(s.get("title") or "").strip().lower() in self.missed or str(s["id"]) in self.missed)}
        found |= {s for s in self.missed if s.isdigit()}
        if not found:
            log.warning("activecampaign_no_missed_stage", configured=len(self.missed))
        return sorted(found)

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = (opt_dt(cursor) if cursor else None) or now - self.first_lookback
        people: dict[str, dict[str, Any]] = {}
        snaps: list[Snapshot] = []
        for stage in self.stage_ids():
            for deal in self.client.deals(stage, since):
                snap = deal_snapshot(self.source, deal, self._person(deal, people))
                if snap is not None:
                    snaps.append(snap)
        latest = max([s.changed_at for s in snaps], default=since)
        upto = max(since, min(latest, now - OVERLAP))
        return SyncPage(snapshots=snaps, cursor=upto.astimezone(UTC).isoformat())

    def _person(self, deal: dict[str, Any], people: dict[str, dict[str, Any]]) -> dict[str, Any]:
        contact = clip(deal.get("contact"), 100)
        if not contact or not contact.isdigit():
            return {}
        if contact not in people:
            try:
                people[contact] = self.client.contact(contact)
            except PermanentProviderError as exc:  # the deal stands without the details, as on the webhook path
                log.info("activecampaign_contact_unreadable", error=type(exc).__name__)
                people[contact] = {}
        return people[contact]
