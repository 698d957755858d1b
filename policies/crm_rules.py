"""What the engine may write to a CRM: allowed fields only, protected fields never, notes appended."""

from __future__ import annotations

from pydantic import BaseModel

from policies.schema import CrmRules


class FieldChange(BaseModel):
    field: str
    before: str | None
    after: str | None


class WritePlan(BaseModel):
    changes: list[FieldChange]
    refused: dict[str, str]  # field -> why it was not written
    notes_to_append: list[str]


def plan_write(
    rules: CrmRules, current: dict[str, str | None], desired: dict[str, str | None], notes: list[str] | None = None
) -> WritePlan:
    changes: list[FieldChange] = []
    refused: dict[str, str] = {}
    protected = {f.lower() for f in rules.protected_fields}
    writable = {f.lower() for f in rules.writable_fields}
    for field, value in desired.items():
        key = field.lower()
        if key in protected:
            refused[field] = "protected field"
        elif key not in writable:
            refused[field] = "not in the writable fields"
        elif current.get(field) != value:
            changes.append(FieldChange(field=field, before=current.get(field), after=value))
    return WritePlan(changes=changes, refused=refused, notes_to_append=list(notes or []))
