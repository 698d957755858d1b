"""`noshow demo --source servicetitan`: the records the polled demo writes on a ServiceTitan tenant through the
engine's client: a customer with one location and its contacts (`POST /crm/v2/tenant/{tenant}/customers`), a job
with one appointment (`POST /jpm/v2/tenant/{tenant}/jobs`, filed under NOSHOW_SERVICETITAN_BUSINESS_UNIT_ID,
_JOB_TYPE_ID and _CAMPAIGN_ID), then the job cancelled with the first NOSHOW_SERVICETITAN_NO_SHOW_REASON_IDS
reason, as an office records a technician's failed access
(https://developer.servicetitan.io/api-details/#api=tenant-jpm-v2&operation=Jobs_Cancel)."""

from __future__ import annotations

from datetime import datetime

from connectors.contract import PermanentProviderError
from connectors.servicetitan.client import st_time
from workers.dev.demo_customer import Customer
from workers.settings import Settings

DEMO_ADDRESS = {"street": "1 Demo Street", "city": "Springfield", "state": "IL", "zip": "62701", "country": "USA"}


def servicetitan_urls(s: Settings) -> list[str]:
    return [s.servicetitan.auth_url, s.servicetitan.base_url]


def servicetitan_problem(s: Settings) -> str | None:
    st = s.servicetitan
    if not st.no_show_reason_ids:
        return ("NOSHOW_SERVICETITAN_NO_SHOW_REASON_IDS is empty: no job cancel reason would mean a no-show (list the "
                "tenant's failed-access reason ids)")
    missing = [name for name, value in (("NOSHOW_SERVICETITAN_BUSINESS_UNIT_ID", st.business_unit_id),
                                        ("NOSHOW_SERVICETITAN_JOB_TYPE_ID", st.job_type_id),
                                        ("NOSHOW_SERVICETITAN_CAMPAIGN_ID", st.campaign_id))
               if not (value or "").strip().isdigit()]
    return f"the demo books a job: set {', '.join(missing)} (numeric ids of the tenant)" if missing else None


def servicetitan_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    from workers.providers.servicetitan import servicetitan_client

    st, client = s.servicetitan, servicetitan_client(s)
    customer = client.create_customer({
        "name": f"{c.first} {c.last} (noshow demo {c.ref})", "type": "Residential", "address": DEMO_ADDRESS,
        "locations": [{"name": f"noshow demo {c.ref}", "address": DEMO_ADDRESS}],
        "contacts": [{"type": "Email", "value": c.email}, {"type": "MobilePhone", "value": c.phone}]})
    locations = customer.get("locations")
    location = locations[0].get("id") if isinstance(locations, list) and locations and isinstance(
        locations[0], dict) else None
    if customer.get("id") is None or location is None:
        raise PermanentProviderError("servicetitan: the customer create answered no id or location", code="no_id")
    job = client.create_job({
        "customerId": customer["id"], "locationId": location, "businessUnitId": int(st.business_unit_id or 0),
        "jobTypeId": int(st.job_type_id or 0), "priority": "Normal", "campaignId": int(st.campaign_id or 0),
        "summary": f"noshow demo {c.ref}", "appointments": [{"start": st_time(start), "end": st_time(end)}]})
    if job.get("id") is None or job.get("firstAppointmentId") is None:
        raise PermanentProviderError("servicetitan: the job create answered no appointment", code="no_id")
    client.cancel_job(str(job["id"]), st.no_show_reason_ids[0], f"noshow demo {c.ref}: technician had no access")
    return str(job["firstAppointmentId"])
