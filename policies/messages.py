"""The message library: approved templates only, rendered with known variables, checked by a guardrail linter."""

from __future__ import annotations

import math
import re
import string

from pydantic import BaseModel

from domain.models import Channel
from policies.schema import Purpose, Template

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")

ALLOWED_VARIABLES = frozenset(
    {
        "first_name",
        "appointment_type",
        "appointment_date",
        "appointment_time",
        "business_name",
        "slot_list",
        "booking_link",
        "new_appointment_time",
        "help_text",
    }
)

# (code, pattern, message). Word-boundary regexes, case-insensitive.
_RULES: list[tuple[str, str, str]] = [
    ("shaming", r"\b(you (failed|forgot|didn'?t bother)|irresponsible|disappoint(ed|ing)|shame|careless|rude)\b",
     "shaming or blaming language"),
    ("threat", r"\b(or else|final warning|legal action|collections?|we will (charge|bill|report|ban)|banned|"
               r"blacklist(ed)?|consequences)\b", "threatening language"),
    ("overpromise", r"\b(guarantee[ds]?|100 ?%|promise[ds]?|always available|risk[- ]free|no wait)\b",
     "overpromising"),
    ("fee_billing", r"(\b(fee|fees|charge[ds]?|penalty|invoice|bill(ing|ed)?|payment|balance|owe|refund)\b|[$€£]\s?\d)",
     "fee, billing or payment language needs separate approval"),
    ("legal", r"\b(lawsuit|attorney|lawyer|court|liab(le|ility)|breach of contract|sue)\b", "legal language"),
    ("medical", r"\b(diagnos\w*|symptom\w*|prescription\w*|medication\w*|treatment\w*|test results?|"
                r"lab results?|biopsy|therapy|pregnan\w*|hiv|cancer|diabetes|surgery)\b", "medical language"),
    ("marketing", r"\b(sale|discount|% off|limited time|special offer|promo(tion)?|deal|free gift|coupon|"
                  r"act now|buy now)\b", "marketing content in an informational message"),
]

_OPT_OUT_TEXT = re.compile(r"\b(reply|text)\s+stop\b|\bstop\s+to\s+(opt|unsubscribe|end|cancel)|\bresponda\s+stop\b",
                           re.IGNORECASE)


class LintProblem(BaseModel):
    code: str
    message: str


class LintResult(BaseModel):
    ok: bool
    problems: list[LintProblem]
    encoding: str
    segments: int


def sms_encoding(text: str) -> tuple[str, int]:
    """GSM-7 or UCS-2, and the number of SMS segments the text needs."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


def lint(
    text: str,
    channel: Channel,
    vertical: str = "general",
    purpose: Purpose = Purpose.informational,
    first_message: bool = False,
    max_segments: int | None = None,
) -> LintResult:
    problems: list[LintProblem] = []
    for code, pattern, message in _RULES:
        if code == "marketing" and purpose == Purpose.marketing:
            continue
        if code == "medical" and vertical != "healthcare" and channel == Channel.email:
            continue
        if re.search(pattern, text, re.IGNORECASE):
            problems.append(LintProblem(code=code, message=message))
    if vertical == "healthcare" and channel in (Channel.sms, Channel.whatsapp):
        if any(p.code == "medical" for p in problems):
            problems.append(LintProblem(code="phi_in_sms", message="health information must not be sent by SMS"))
    if first_message and channel == Channel.sms and not _OPT_OUT_TEXT.search(text):
        problems.append(LintProblem(code="missing_opt_out", message="the first SMS must say how to opt out"))
    fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    unknown = sorted(fields - ALLOWED_VARIABLES)
    if unknown:
        problems.append(LintProblem(code="unknown_variable", message="unknown variables: " + ", ".join(unknown)))
    encoding, segments = sms_encoding(text) if channel != Channel.email else ("UTF-8", 1)
    if max_segments is None and vertical == "healthcare" and channel == Channel.sms:
        max_segments = 1
    if max_segments is not None and segments > max_segments:
        problems.append(LintProblem(code="too_long", message=f"{segments} segments > {max_segments} allowed"))
    return LintResult(ok=not problems, problems=problems, encoding=encoding, segments=segments)


class TemplateNotFound(LookupError):
    pass


def select_template(templates: list[Template], template_id: str, channel: Channel, locale: str) -> Template:
    """The newest approved version for the channel, in the contact's locale or else English."""
    base = locale.split("-")[0].lower()
    for wanted in (locale, base, "en"):
        found = [
            t for t in templates
            if t.id == template_id and t.channel == channel and t.locale.lower() == wanted.lower() and t.approved
        ]
        if found:
            return max(found, key=lambda t: t.version)
    raise TemplateNotFound(f"no approved template {template_id!r} for {channel.value}")


class _SafeVars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def render(template: Template, variables: dict[str, str]) -> tuple[str | None, str]:
    """Subject and body with variables filled in; a variable the template names must be supplied."""
    clean = _SafeVars({k: v.replace("{", "(").replace("}", ")") for k, v in variables.items()})
    body = template.body.format_map(clean)
    subject = template.subject.format_map(clean) if template.subject else None
    return subject, body
