"""ServiceTitan built from settings: the client-credentials token, the API client and the reconcile source (the
only inbound path: no webhook route, see connectors/servicetitan/source.py). No network here."""

from __future__ import annotations

from typing import Any

from activities.source_tasks import RescheduleTaskOpener
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog
from connectors.oauth import ClientCredentialsGrant, TokenManager
from connectors.servicetitan.client import ServiceTitanClient
from connectors.servicetitan.crm import ServiceTitanCrm, TaskIds
from connectors.servicetitan.reschedule_tasks import ServiceTitanRescheduleTasks
from connectors.servicetitan.source import ServiceTitanSource
from connectors.settings import secret
from workers.providers.checks import url_problem
from workers.providers.tokens import _manager
from workers.settings import Settings


def servicetitan_token(s: Settings) -> TokenManager | None:
    """One token per tenant and app client (the credentials are issued per tenant)."""
    st = s.servicetitan
    client_secret = secret(st.client_secret)
    if not (st.client_id and client_secret):
        return None
    return _manager(s, "servicetitan", f"{(st.tenant_id or '').strip()}:{st.client_id}", st.auth_url,
                    ClientCredentialsGrant(st.client_id, client_secret))


def servicetitan_client(s: Settings) -> ServiceTitanClient:
    st = s.servicetitan
    return ServiceTitanClient(servicetitan_token(s) or "", secret(st.app_key) or "", st.tenant_id or "",
                              base_url=st.base_url.rstrip("/"))


def servicetitan_source(s: Settings) -> ServiceTitanSource:
    st = s.servicetitan
    return ServiceTitanSource(servicetitan_client(s), st.no_show_reason_ids,
                              failed_access_reason_ids=st.failed_access_reason_ids)


def task_ids(s: Settings) -> TaskIds | None:
    st = s.servicetitan
    given = [(v or "").strip() for v in (st.task_reporter_id, st.task_assignee_id, st.business_unit_id,
                                         st.task_type_id, st.task_source_id)]
    return TaskIds(*(int(v) for v in given)) if all(v.isdigit() for v in given) else None


def servicetitan_crm(s: Settings, crm: Any) -> ServiceTitanCrm:
    """Notes on the customer and, with the task settings, reschedule tasks (`crm`: the local CRM, whose database
    keeps the create log)."""
    return ServiceTitanCrm(servicetitan_client(s), CreateLog(crm.db, "servicetitan"), task_ids(s))


def servicetitan_crm_problems(s: Settings) -> list[str]:
    st = s.servicetitan
    env = {"NOSHOW_SERVICETITAN_CLIENT_ID": st.client_id, "NOSHOW_SERVICETITAN_CLIENT_SECRET": secret(
        st.client_secret), "NOSHOW_SERVICETITAN_APP_KEY": secret(st.app_key)}
    problems = [f"NOSHOW_CRM_PROVIDER=servicetitan needs {name}" for name, value in env.items() if not value]
    if not (st.tenant_id or "").strip().isdigit():
        problems.append("NOSHOW_CRM_PROVIDER=servicetitan needs a numeric NOSHOW_SERVICETITAN_TENANT_ID")
    tasks = (st.task_reporter_id, st.task_assignee_id, st.task_type_id, st.task_source_id)
    if any(tasks) and task_ids(s) is None:
        problems.append("the NOSHOW_SERVICETITAN_TASK_* ids and NOSHOW_SERVICETITAN_BUSINESS_UNIT_ID must all be "
                        "numeric ids when tasks are configured")
    return problems + [x for x in (url_problem(st.auth_url, "NOSHOW_SERVICETITAN_AUTH_URL"),
                                   url_problem(st.base_url, "NOSHOW_SERVICETITAN_BASE_URL")) if x]


def servicetitan_probe(s: Settings) -> str:
    servicetitan_client(s).probe()
    return f"tenant {(s.servicetitan.tenant_id or '').strip()} readable"


TASK_ON_MISS_NEEDS = ("NOSHOW_SERVICETITAN_TASK_REPORTER_ID + _TASK_ASSIGNEE_ID + _TASK_TYPE_ID + _TASK_SOURCE_ID + "
                      "_BUSINESS_UNIT_ID (numeric ids, for NOSHOW_SERVICETITAN_RESCHEDULE_TASK_ON_MISS)")


def reschedule_task_openers(s: Settings, db: LocalDb) -> dict[str, RescheduleTaskOpener]:
    """The ServiceTitan opener of reschedule tasks for missed jobs, when NOSHOW_SERVICETITAN_RESCHEDULE_TASK_ON_MISS
    is true and the credentials and task ids are complete; otherwise none (the reconcile check says what is
    missing)."""
    st, ids = s.servicetitan, task_ids(s)
    if not (st.reschedule_task_on_miss and st.configured and ids and secret(st.app_key)
            and (st.tenant_id or "").strip().isdigit()):
        return {}
    return {"servicetitan": ServiceTitanRescheduleTasks(servicetitan_client(s), CreateLog(db, "servicetitan"), ids)}
