"""ActiveCampaign: a `deal_update` form post moving the deal to the Missed stage, authenticated by the token in
the webhook URL (https://developers.activecampaign.com/page/webhooks)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from connectors.settings import secret
from workers.dev.demo_sources.base import DemoSource, Person, Signed
from workers.settings import Settings


def missed(settings: Settings, key: str, p: Person, start: datetime, end: datetime) -> Signed:
    first, _, last = p.name.partition(" ")
    form = {"type": "deal_update", "date_time": start.astimezone(UTC).isoformat(), "initiated_from": "admin",
            "deal[id]": p.ref, "deal[title]": "Consultation", "deal[stageid]": "7", "deal[stage_title]": "Missed",
            "deal[contactid]": "39", "deal[contact_email]": p.email, "deal[contact_firstname]": first,
            "deal[contact_lastname]": last, "contact[phone]": p.phone, "updated_fields[0]": "stage"}
    return urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded"}, urlencode({"token": key})


SOURCE = DemoSource("activecampaign", "NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN",
                    lambda s: secret(s.activecampaign.webhook_token), lambda _: "deals", "deal", missed)
