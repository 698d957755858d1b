"""The help desks a deployment can write outcomes to (NOSHOW_CRM_PROVIDER=zendesk | freshdesk)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.helpdesk.crm import HelpdeskCrm
from policies.schema import CrmRules
from workers.providers import freshdesk, zendesk
from workers.settings import Settings

TITLES = {"zendesk": zendesk.TITLE, "freshdesk": freshdesk.TITLE}
PROBLEMS: dict[str, Callable[[Settings], list[str]]] = {"zendesk": zendesk.zendesk_problems,
                                                        "freshdesk": freshdesk.freshdesk_problems}
CRMS: dict[str, Callable[[Settings, Any, CrmRules], HelpdeskCrm]] = {"zendesk": zendesk.zendesk_crm,
                                                                   "freshdesk": freshdesk.freshdesk_crm}


def crm_problems(s: Settings) -> list[str]:
    check = PROBLEMS.get(s.routing.crm_provider)
    return check(s) if check else []


def remote_crm(s: Settings, crm: Any, rules: CrmRules) -> HelpdeskCrm | None:
    build = CRMS.get(s.routing.crm_provider)
    return build(s, crm, rules) if build else None
