"""The one registry of typed search attributes. `noshow up` and the tests register exactly these.

Values are opaque or categorical: never names, phone numbers or email addresses.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("NoShowStage")
NEEDS_REVIEW = SearchAttributeKey.for_bool("NoShowNeedsReview")
SOURCE = SearchAttributeKey.for_keyword("NoShowSource")
APPOINTMENT_TYPE = SearchAttributeKey.for_keyword("NoShowAppointmentType")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NoShowNextActionAt")
OUTCOME = SearchAttributeKey.for_keyword("NoShowOutcome")
KIND = SearchAttributeKey.for_keyword("NoShowKind")
CONTACT_KEY = SearchAttributeKey.for_keyword("NoShowContactKey")
POLICY_VERSION = SearchAttributeKey.for_keyword("NoShowPolicyVersion")

ALL: list[SearchAttributeKey[Any]] = [
    STAGE, NEEDS_REVIEW, SOURCE, APPOINTMENT_TYPE, NEXT_ACTION_AT, OUTCOME, KIND, CONTACT_KEY, POLICY_VERSION,
]


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "BOOL": "Bool", "DATETIME": "Datetime", "INT": "Int", "TEXT": "Text"}
    flags: list[str] = []
    for key in ALL:
        kind = kinds[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags
