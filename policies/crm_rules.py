"""What the engine may write to a CRM: allowed fields only, protected fields never, notes appended.

Field names are compared after normalisation ("Owner Notes", "owner-notes" and "owner_notes" are one
field), and protected patterns win over the writable list, so a typo in a policy cannot open a protected
field. Every change carries its before and after value for the audit trail.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, Field

from policies.schema import CrmRules, LeadScoreRule


class FieldChange(BaseModel):
    field: str
    before: str | None
    after: str | None
    mode: Literal["set", "append", "clear"] = "set"


class WritePlan(BaseModel):
    changes: list[FieldChange]
    refused: dict[str, str]  # field -> why it was not written
    notes_to_append: list[str]
    unchanged: list[str] = Field(default_factory=list)  # fields that already hold the desired value


def normalise_field(name: str) -> str:
    return re.sub(r"[^a-z0-9*?\[\]]+", "_", name.strip().lower()).strip("_")


def is_protected(rules: CrmRules, field: str) -> bool:
    key = normalise_field(field)
    return any(fnmatchcase(key, normalise_field(p)) for p in rules.protected_fields)


def is_writable(rules: CrmRules, field: str) -> bool:
    key = normalise_field(field)
    return not is_protected(rules, field) and any(fnmatchcase(key, normalise_field(p)) for p in rules.writable_fields)


def _append(before: str | None, text: str) -> str:
    return text if not before else f"{before}\n{text}"


def plan_write(
    rules: CrmRules, current: dict[str, str | None], desired: dict[str, str | None], notes: list[str] | None = None
) -> WritePlan:
    changes: list[FieldChange] = []
    refused: dict[str, str] = {}
    unchanged: list[str] = []
    notes_fields = {normalise_field(f) for f in rules.note_fields}
    clearable = {normalise_field(f) for f in rules.clearable_fields}
    by_key = {normalise_field(k): v for k, v in current.items()}
    for field, value in desired.items():
        key = normalise_field(field)
        before = current.get(field, by_key.get(key))
        if is_protected(rules, field):
            refused[field] = "protected field: the engine never writes it"
        elif not is_writable(rules, field):
            refused[field] = "not in the writable fields"
        elif key in notes_fields and rules.notes_append_only:
            if value is None or value == "":
                refused[field] = "notes are append-only: they are never cleared"
            elif before and (before == value or before.endswith("\n" + value)):
                unchanged.append(field)  # already appended (a retried write)
            else:
                changes.append(FieldChange(field=field, before=before, after=_append(before, value), mode="append"))
        elif value is None or value == "":
            if before in (None, ""):
                unchanged.append(field)
            elif key in clearable:
                changes.append(FieldChange(field=field, before=before, after=None, mode="clear"))
            else:
                refused[field] = "the engine may not clear this field"
        elif before == value:
            unchanged.append(field)
        else:
            changes.append(FieldChange(field=field, before=before, after=value))
    clean_notes = [n for n in (notes or []) if n and n.strip()]
    return WritePlan(changes=changes, refused=refused, notes_to_append=clean_notes, unchanged=unchanged)


def lead_score_after(rule: LeadScoreRule | None, current: str | None, fields: dict[str, str | None]) -> str | None:
    """The lead score after this write, when the program adjusts one and the write reaches a status it scores;
    None otherwise. A current value that is not a number counts as 0."""
    status = fields.get("recovery_status")
    if rule is None or status is None or status not in rule.deltas:
        return None
    try:
        base = float(current) if current not in (None, "") else 0.0
    except ValueError:
        base = 0.0
    return f"{base + rule.deltas[status]:g}"


def message_note(rules: CrmRules, template_id: str, channel: str | None, status: str, case_id: str) -> list[str]:
    """The timeline note for one status of one message, under the write rules (a note, no field: nothing
    protected is touched); [] when the program asks for no message notes. It names the template, the channel and
    the status, never the message's text or the recipient's address."""
    if not rules.message_notes:
        return []
    text = f"Message {template_id} by {channel or 'no channel'}: {status} (case {case_id})"
    return plan_write(rules, {}, {}, [text]).notes_to_append
