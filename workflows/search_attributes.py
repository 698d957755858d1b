"""The one registry of typed search attributes. `noshow up` and the tests register exactly these.

Values are opaque or categorical: never names, phone numbers or email addresses.

Cost: attributes set when a workflow starts are free in Temporal Cloud; each upsert is one billed action. So a
case starts with all of them (`for_case_start`, passed as the start's `search_attributes`) and upserts only when
its stage really changes. NoShowNextActionAt is the due time of the stage's first action, written with the stage
and not moved within it (the state query has the live value).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

if TYPE_CHECKING:
    from domain.case import CaseInput

STAGE = SearchAttributeKey.for_keyword("NoShowStage")
NEEDS_REVIEW = SearchAttributeKey.for_bool("NoShowNeedsReview")
SOURCE = SearchAttributeKey.for_keyword("NoShowSource")
APPOINTMENT_TYPE = SearchAttributeKey.for_keyword("NoShowAppointmentType")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NoShowNextActionAt")
OUTCOME = SearchAttributeKey.for_keyword("NoShowOutcome")
KIND = SearchAttributeKey.for_keyword("NoShowKind")
CONTACT_KEY = SearchAttributeKey.for_keyword("NoShowContactKey")
POLICY_VERSION = SearchAttributeKey.for_keyword("NoShowPolicyVersion")
# the policy program a case runs under: set by the starter only (no workflow upsert), so the API can list for a
# reviewer only the cases of its programs; a case started without it is listed to admins alone
PROGRAM = SearchAttributeKey.for_keyword("NoShowProgram")

ALL: list[SearchAttributeKey[Any]] = [
    STAGE, NEEDS_REVIEW, SOURCE, APPOINTMENT_TYPE, NEXT_ACTION_AT, OUTCOME, KIND, CONTACT_KEY, POLICY_VERSION, PROGRAM,
]


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "BOOL": "Bool", "DATETIME": "Datetime", "INT": "Int", "TEXT": "Text"}
    flags: list[str] = []
    for key in ALL:
        kind = kinds[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def for_case_start(inp: CaseInput) -> TypedSearchAttributes:
    """What a RecoveryCase shows from its first moment: pass as `search_attributes=` to start_workflow.
    The workflow then upserts nothing until its stage changes (it upserts these itself when a starter did not)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(STAGE, inp.initial_stage().value),
        SearchAttributePair(NEEDS_REVIEW, False),
        SearchAttributePair(KIND, inp.kind.value),
        SearchAttributePair(SOURCE, inp.appointment.source),
        SearchAttributePair(APPOINTMENT_TYPE, inp.appointment.appointment_type),
        SearchAttributePair(CONTACT_KEY, inp.contact_key),
        SearchAttributePair(POLICY_VERSION, inp.resolved.policy_version),
        SearchAttributePair(PROGRAM, inp.resolved.program.name),
    ]
    if inp.watch:  # watching until the appointment's end plus the grace period
        grace = timedelta(minutes=inp.resolved.program.attendance.grace_minutes)
        pairs.append(SearchAttributePair(NEXT_ACTION_AT, inp.appointment.end + grace))
    return TypedSearchAttributes(pairs)
