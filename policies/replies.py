"""Understanding a customer's reply. Deterministic rules; ambiguity never books.

(First version: the conversations work replaces the internals; the interface stays.)
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.models import ReplyIntent, ReplyUnderstanding


class ReplyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    offered: list[datetime] = Field(default_factory=list)
    now: datetime
    timezone: str = "UTC"
    review_below: float = 0.75


_OPT_OUT = re.compile(
    r"^\s*(stop|stopall|quit|end|revoke|opt[\s-]?out|cancel|unsubscribe)\b|\b(stop texting|don'?t (text|message|contact)"
    r"|no (me )?(manden|envien|escriban)|no m[aá]s mensajes|dejen de)\b",
    re.IGNORECASE,
)


def understand(inp: ReplyInput) -> ReplyUnderstanding:
    text = inp.text.strip()
    if _OPT_OUT.search(text):
        return ReplyUnderstanding(intent=ReplyIntent.opt_out, slot_index=None, confidence=1.0, needs_review=False,
                                  reason="opt-out wording")
    m = re.fullmatch(r"#?\s*(\d{1,2})[.!]?", text)
    if m and inp.offered:
        idx = int(m.group(1)) - 1
        if 0 <= idx < len(inp.offered):
            return ReplyUnderstanding(intent=ReplyIntent.pick_slot, slot_index=idx, confidence=0.95,
                                      needs_review=False, reason=f"picked option {idx + 1}")
    if re.search(r"\bi was there\b|\bi came\b|\bi showed up\b", text, re.IGNORECASE):
        return ReplyUnderstanding(intent=ReplyIntent.dispute, slot_index=None, confidence=0.9, needs_review=True,
                                  reason="customer disputes the no-show")
    if re.search(r"\b(reschedule|rebook|another time|new time|next week|yes)\b", text, re.IGNORECASE):
        return ReplyUnderstanding(intent=ReplyIntent.reschedule, slot_index=None, confidence=0.8,
                                  needs_review=False, reason="asks for a new time")
    return ReplyUnderstanding(intent=ReplyIntent.other, slot_index=None, confidence=0.3, needs_review=True,
                              reason="not understood")
