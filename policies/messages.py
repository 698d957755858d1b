"""The message library: approved templates only, rendered with known variables, checked by a guardrail linter.

The linter runs at approval (`lint_policy`, `noshow policy check`) and at send time (`lint_template`). Its
word rules are families (stems plus inflections), matched case-insensitively on text whose quotes, accents
and spacing are normalised and whose `{placeholders}` are blanked, so that it judges the words an author
wrote rather than the variables' names.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from domain.models import CaseKind, Channel
from policies import times
from policies.schema import PolicyFile, Program, Purpose, Template, cross_check
from policies.send_rules import STATUTORY_STATE_WINDOWS

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
        "offer_expires",
        "payment_link",
    }
)
# A plausible reader and offer, used to preview and measure a template as a customer would receive it. Times go
# through the same renderer as real sends (policies/times.py), so an approver sees what is sent.
_SAMPLE_NOW = datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("America/New_York"))
_SAMPLE_SLOTS = [_SAMPLE_NOW + timedelta(days=1, hours=1), _SAMPLE_NOW + timedelta(days=2, hours=5, minutes=30),
                 _SAMPLE_NOW + timedelta(days=3)]


def sample_variables(locale: str = "en") -> dict[str, str]:
    style = times.TimeStyle(zone=ZoneInfo("America/Chicago"), locale=locale,
                            business_zone=ZoneInfo("America/New_York"), now=_SAMPLE_NOW)
    missed = _SAMPLE_NOW - timedelta(days=1, hours=-1, minutes=-30)
    return {
        "first_name": "Alexandra",
        "appointment_type": "consultation",
        "appointment_date": style.day(missed, relative=False),
        "appointment_time": style.time(missed),
        "business_name": "Riverside Office",
        "slot_list": style.slot_list(_SAMPLE_SLOTS),
        "booking_link": "https://example.com/b/abc123",
        "payment_link": "https://pay.example.com/riverside",
        "new_appointment_time": style.when(_SAMPLE_SLOTS[0]),
        "offer_expires": style.until(_SAMPLE_NOW + timedelta(hours=2)),
        "help_text": "Reply STOP to opt out. For help contact the office.",
    }


SAMPLE_VARIABLES = sample_variables()
# variables that reveal what a healthcare appointment is about: never in a healthcare SMS
PHI_VARIABLES = frozenset({"appointment_type"})
HEALTHCARE_VERTICALS = frozenset(
    {"healthcare", "health", "medical", "clinic", "dental", "therapy", "behavioral_health"}
)
# templates the workflow itself sends (besides sequence steps)
ENGINE_TEMPLATES = ("offer_slots", "slot_taken", "confirm_booking", "no_slots")
# templates the waitlist backfill sends when a program backfills freed slots
BACKFILL_TEMPLATES = ("waitlist_offer", "slot_gone", "confirm_booking")
# lint codes an approver may waive for one template (Template.lint_exceptions)
WAIVABLE = frozenset({"fee_billing", "implied_fee", "legal", "medical", "too_long"})


def _family(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])")


# (code, pattern, message); patterns run on normalised lower-case text
_RULES: list[tuple[str, re.Pattern[str], str]] = [
    ("shaming", _family(
        r"irresponsib\w*", r"disappoint\w*", r"shame\w*", r"ashamed", r"careless\w*", r"rude(?:ly|ness)?",
        r"unacceptabl[ey]", r"inconsiderate\w*", r"lazy", r"laziness", r"unreliab\w*", r"flak(?:e|ey|y|iness)",
        r"thoughtless\w*", r"selfish\w*", r"disrespect\w*", r"embarrass\w*", r"pathetic",
        r"wast(?:e|ed|es|ing) (?:of )?(?:our|my|the|everyone'?s|other people'?s)(?: \w+'?s?)? time",
        r"you (?:have |had |just )?(?:failed|forgot|neglected|ignored|stood us up|blew us off|ghosted)",
        r"you (?:did ?n'?o?t|did not|couldn'?t|could not|can'?t|cannot) (?:even )?(?:bother|be bothered)",
        r"(?:bad|poor|terrible|unacceptable) (?:behaviou?r|manners|attendance)", r"how (?:dare|could) you",
        r"no[ -]?show(?:er)?s? like you", r"(?:yet )?again\?!", r"serial no[ -]?show\w*",
    ), "shaming or blaming language"),
    ("threat", _family(
        r"or else", r"(?:final|last) (?:warning|notice|chance)", r"legal action", r"collections?",
        r"collection agenc(?:y|ies)", r"debt collect\w*", r"consequence\w*", r"blacklist\w*", r"ban(?:s|ned|ning)?",
        r"penali[sz]\w*", r"penalt(?:y|ies)",
        r"(?:we|we'?ll|they|they'?ll) (?:will |may |might |shall )?(?:charge|bill|report|ban|block|blacklist|fine|"
        r"penali[sz]e|sue|terminate|suspend|refuse|remove) you\w*",
        r"(?:will|may|could|shall|might) be (?:charged|billed|reported|banned|blacklisted|fined|penali[sz]ed|"
        r"terminated|suspended|sent to collections|refused|removed)",
        r"(?:suspend|terminat|cancel|clos)\w* your (?:account|membership|service|care)", r"you will lose",
        r"do ?n'?o?t ignore", r"do not ignore", r"you (?:must|have to|need to) (?:pay|respond|call us)",
    ), "threatening language"),
    ("overpromise", _family(
        r"guarant\w*", r"promis\w*", r"100 ?%", r"one hundred percent", r"risk[ -]?free", r"(?:no|zero) risk",
        r"(?:no|zero|never)[ -]wait\w*", r"always available", r"cur(?:e|es|ed|ing)", r"miracle\w*",
        r"(?:instant|immediate)(?:ly)? (?:results?|relief|fix\w*)", r"money[ -]back",
        r"(?:will|we'?ll) (?:definitely|certainly|surely|absolutely)", r"(?:can'?t|cannot|won'?t) (?:lose|fail)",
        r"(?:best|lowest|cheapest) (?:price|rate|deal)s?", r"no matter what", r"garantiza\w*", r"garant[ií]a\w*",
    ), "overpromising"),
    ("shaming", _family(
        # labels put on the customer, whatever the words: flagged, marked as, repeat/chronic/habitual
        r"(?:flagg?ed|marked|labell?ed|listed|recorded|noted|classified|identified|registered) (?:you )?as (?:an? )?"
        r"(?:repeat|chronic|habitual|frequent|serial|problem|high[- ]risk|unreliable|late|no[- ]?show|absent)\w*",
        r"(?:repeat|chronic|habitual|frequent|serial|multiple|several|another|second|third|\d+(?:st|nd|rd|th)?) "
        r"(?:no[- ]?shows?|missed appointments|absences|cancellations)",
        r"you (?:were|are|have been|keep being) (?:a |an )?(?:no[- ]?show|absent again|late again)\w*",
        r"(?:yet )?again you (?:missed|failed|did not|didn'?t)", r"you (?:always|keep|never) (?:miss|cancel|show)\w*",
        r"your (?:attendance|track) record", r"chronically (?:late|absent)",
        r"(?:flagged|marcad[oa]) (?:en|in) (?:our|nuestro)", r"marcad[oa] como", r"inasistente\w*", r"faltista\w*",
        r"reincidente\w*", r"otra vez (?:falto|no vino|no asistio)",
        r"no se presento (?:otra vez|de nuevo|nuevamente)",
    ), "a label that shames the customer"),
    ("threat", _family(
        # consequences, however softly phrased
        r"failure to (?:\w+ ){0,3}(?:may|will|could|might|can|shall) (?:\w+ ){0,2}(?:affect|impact|result|lead|"
        r"jeopardi[sz]e|cost|mean|prevent|limit|delay)\w*",
        r"(?:affect|impact|jeopardi[sz]e|lose|losing|forfeit|risk|endanger)\w* (?:your |the )?(?:eligibility|benefits?|"
        r"coverage|spot|place|standing|account|priority|status|membership|access|plan|enrol?lment|care)",
        r"(?:may|might|could|will) (?:no longer|not) be able to (?:see|serve|treat|accept|book|schedule|offer|help)",
        r"(?:discharged|dismissed|removed|released) from (?:the|our|this) (?:practice|clinic|program|office|care)",
        r"(?:may|will|could) result in", r"(?:otherwise|if not),? (?:we|you) (?:will|may|must)",
        r"(?:last|final) (?:opportunity|time we)", r"(?:we|you) (?:will|may) have to (?:close|cancel|remove|report)",
        r"(?:podria|puede|podra) (?:afectar|perjudicar|resultar)\w*", r"de lo contrario",
        r"perder(?:a|ia)? (?:su|tu) (?:lugar|cita|elegibilidad|cobertura|beneficio)\w*", r"ultima oportunidad",
    ), "a threat or consequence"),
    ("implied_fee", _family(
        r"(?:missed|late|no[- ]?show|cancell?ation|rebooking|rescheduling) (?:fee|charge|penalty)s?",
        r"card on file", r"(?:deposit|payment)s? (?:will|may) be (?:kept|retained|forfeited|applied)",
        r"forfeit\w*", r"non[- ]?refundable",
        r"(?:subject to|incur|incurs|incurred) (?:an? |the )?(?:\w+ )?(?:fee|charge)",
        r"(?:fees?|charges?) (?:may|will|might) (?:apply|be applied|be added)", r"applicable (?:fees?|charges?)",
        r"(?:charged|billed) (?:for|the) (?:the |your )?(?:missed|full|visit|session|appointment)",
        r"cargo por", r"se (?:le )?(?:aplicara|cobrara)\w*", r"tarjeta registrada", r"no reembolsable",
    ), "an implied fee or charge"),
    ("overpromise", _family(
        r"you(?:'ll| will) (?:feel|look|be|get) (?:so much |much )?"
        r"(?:better|great|amazing|healthier|cured|pain[- ]free)",
        r"(?:best|top|#1|number one|no\. ?1) (?:doctors?|clinics?|service|care|dentists?|team) (?:in|around)",
        r"always (?:on time|available|open)", r"never (?:wait|miss)\w*", r"same[- ]day results?",
        r"(?:sin|cero) espera", r"resultados (?:garantizados|inmediatos)", r"se (?:sentira|vera) (?:mejor|increible)",
    ), "overpromising"),
    ("medical", _family(
        # clinical words by their shape (specialties, conditions, procedures), not only a list
        r"(?:pre|post|peri|neo)[- ]?natal\w*", r"obstetric\w*", r"ob[- /]?gyn\w*", r"gyn(?:a)?ecolog\w*", r"maternity",
        r"(?!(?:techn|apol|chron|termin|method|ide|anth|myth|the|ec|ge|bi|zo|astr|numer|phren|soci|tax)ology)"
        r"[a-z]{3,}olog(?:y|ist|ists|ical)",
        r"[a-z]{3,}(?:itis|ectomy|ectomies|otomy|oscopy|oscopies|plasty|emia)", r"(?!(?:aca|ane)mia)[a-z]{2,}emia",
        r"physical therap\w*", r"check[- ]?ups? for your (?:\w+ )?(?:condition|pregnancy|baby|heart|diabetes)",
        r"(?:your|the) (?:condition|diagnosis|prognosis|procedure|follow[- ]up (?:for|on) your \w+)",
        r"(?:physio|chiro|psycho)\w+", r"counsel?ling session\w*", r"(?:std|hiv|covid|flu) (?:test|screening|shot)\w*",
        r"screening\w*", r"prescription\w*", r"refill\w*", r"insulin", r"chemotherap\w*", r"radiation",
        r"embaraz\w*", r"prenatal\w*", r"diagnostic\w*", r"tratamiento\w*", r"receta\w*", r"analisis (?:de|clinic)\w*",
        r"resultados de (?:laboratorio|sus analisis|la prueba)", r"enfermedad\w*", r"terapia\w*", r"cirugia\w*",
        r"[a-z]{3,}(?:ologia|ologo|ectomia|oscopia)",
    ), "medical or clinical detail"),
    ("fee_billing", _family(
        r"fees?", r"surcharge\w*", r"charg(?:e|es|ed|ing)", r"invoic\w*", r"bill(?:s|ed|ing|able)?",
        r"pay(?:s|ment|ments|ing|able)?",
        r"paid", r"balances?", r"owe(?:s|d)?", r"owing", r"refund\w*", r"deposits?", r"co-?pay\w*", r"deductibles?",
        r"insurance", r"amount due", r"past due", r"outstanding (?:amount|balance)", r"cost(?:s)?",
        r"pric(?:e|es|ed|ing)",
        r"[$€£¥] ?\d[\d,.]*", r"\d[\d,.]* ?(?:usd|dollars?|eur|euros?|gbp|pounds?)", r"cargos?", r"multas?",
        r"cobr\w*", r"pagos?", r"factura\w*", r"tarifa\w*",
    ), "fee, billing or payment language needs separate approval"),
    ("legal", _family(
        r"lawsuits?", r"attorneys?", r"lawyers?", r"courts?", r"litigat\w*", r"liab(?:le|ility|ilities)",
        r"breach\w*", r"su(?:e|ed|es|ing)", r"legal(?:ly)?", r"subpoena\w*", r"small claims", r"judge?ments?",
        r"prosecut\w*", r"police", r"law enforcement", r"demanda\w*", r"abogad\w*",
    ), "legal language"),
    ("medical", _family(
        r"diagnos\w*", r"symptom\w*", r"prescri\w*", r"medication\w*", r"medicines?", r"treatments?",
        r"(?:test|lab|laboratory|blood|scan|biopsy) results?", r"biops(?:y|ies)", r"therap(?:y|ies|ist|ists|eutic)",
        r"pregnan\w*", r"hiv", r"cancer\w*", r"oncolog\w*", r"tumou?rs?", r"diabet\w*",
        r"surg(?:ery|eries|ical|eon|eons)", r"chemo\w*", r"dialysis", r"std|stds|sti|stis", r"vaccin\w*",
        r"mental health", r"depress(?:ion|ed|ive)", r"anxiety", r"psychiatr\w*", r"psycholog\w*", r"rehab\w*",
        r"addiction\w*", r"substance (?:abuse|use)", r"abortion\w*", r"fertility", r"ivf", r"colonoscop\w*",
        r"mammogra\w*", r"x-?rays?", r"mri", r"ultrasound\w*", r"blood (?:test|work|pressure|sugar)\w*",
        r"infection\w*", r"infected", r"diseases?", r"illness\w*", r"injur(?:y|ies|ed)", r"root canals?",
        r"date of birth", r"dob", r"medical records?", r"patient id", r"mrn",
    ), "medical language"),
    ("marketing", _family(
        r"sales?", r"discount\w*", r"\d+ ?% off", r"percent off", r"limited[ -]time",
        r"(?:special|exclusive|introductory) offers?",
        r"promo\w*", r"deals?", r"free (?:gift|trial|consultation|month|upgrade|offer|sample|shipping)\w*",
        r"coupon\w*", r"voucher\w*", r"(?:act|buy|shop|order) now", r"upgrad\w*", r"bonus\w*", r"prizes?",
        r"giveaways?", r"winners?", r"save (?:up to|\d)\w*", r"savings", r"refer a friend", r"referral\w*",
        r"bogo", r"clearance", r"hurry", r"offer ends", r"cheap\w*", r"descuento\w*", r"ofertas?", r"promoci\w*",
        r"gratis", r"rebaja\w*",
    ), "marketing content in an informational message"),
    ("shaft", _family(
        r"sex\w*", r"porn\w*", r"escorts?", r"alcohol\w*", r"beers?", r"wines?", r"liquor\w*", r"vodka",
        r"whiske?y", r"tequila", r"cannabis", r"marijuana", r"weed", r"cbd", r"thc", r"dispensar(?:y|ies)",
        r"firearms?", r"guns?", r"ammo", r"ammunition", r"rifles?", r"pistols?", r"tobacco", r"cigar\w*",
        r"vap(?:e|es|ing)", r"nicotine", r"e-?cig\w*", r"hookah",
    ), "SHAFT content (sex, hate, alcohol, firearms, tobacco) that carriers filter"),
    ("shortener", re.compile(
        r"(?:bit\.ly|tinyurl\.com|goo\.gl|t\.co|ow\.ly|is\.gd|buff\.ly|rebrand\.ly|cutt\.ly|shorturl\.at|tiny\.cc)/"
    ), "public link shorteners are filtered by carriers; use your own domain"),
]

_OPT_OUT_TEXT = re.compile(
    r"(?:reply|text|txt|send|respond|responda|responde|envie|envia|escriba|escribe)\W+(?:with\W+|the word\W+)?"
    r"(?:stop|end|quit|unsubscribe|cancel|stopall|baja|alto)(?![\w])"
    r"|(?<![\w])(?:stop|unsubscribe)\W+(?:to|para)\W+(?:opt|unsubscribe|end|cancel|stop|quit|no|dejar|cancelar|darse)"
    r"|opt[ -]?out\W.{0,30}(?:reply|text)"
)
_UNSUBSCRIBE_TEXT = re.compile(r"unsubscrib\w*|opt[ -]?out|reply stop|manage (?:your )?preferences")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# characters that force UCS-2 although a plain GSM-7 equivalent exists
_SMS_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u2033": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
    "\u2009": " ", "\u202f": " ", "\u2022": "-", "\u00b4": "'", "\u02bc": "'",
}


class LintProblem(BaseModel):
    code: str
    message: str


class LintResult(BaseModel):
    ok: bool
    problems: list[LintProblem]
    encoding: str
    segments: int
    warnings: list[LintProblem] = Field(default_factory=list)
    # the template as a sample customer reads it, times rendered by policies/times.py as real sends are
    preview: str | None = None


def _normalise(text: str) -> str:
    """Lower case, plain quotes and dashes, accents removed, placeholders blanked, spaces collapsed."""
    text = _PLACEHOLDER.sub(" ", text)
    text = "".join(_SMS_REPLACEMENTS.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text.lower()).strip()


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return cp > 0xFFFF or 0x2600 <= cp <= 0x27BF or cp in (0xFE0F, 0x200D, 0x2B50, 0x2B55, 0x2764)


def sms_encoding(text: str) -> tuple[str, int]:
    """GSM-7 or UCS-2, and the number of SMS segments the text needs.

    Segments pack greedily: an extension character (two septets) or a surrogate pair is never split
    across two segments, as handsets and carriers do.
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, multi = 160, 153
    else:
        costs = [len(ch.encode("utf-16-le")) // 2 for ch in text]
        single, multi = 70, 67
    if sum(costs) <= single:
        return ("GSM-7" if single == 160 else "UCS-2"), 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return ("GSM-7" if single == 160 else "UCS-2"), segments


def normalise_for_sms(text: str) -> str:
    """Replace smart quotes, dashes and odd spaces with GSM-7 equivalents (emoji are left for the linter)."""
    return "".join(_SMS_REPLACEMENTS.get(ch, ch) for ch in text)


def is_healthcare(vertical: str) -> bool:
    return vertical.strip().lower() in HEALTHCARE_VERTICALS


def _placeholders(text: str) -> tuple[set[str], bool]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}, True
    except ValueError:
        return set(), False


def lint(
    text: str,
    channel: Channel,
    vertical: str = "general",
    purpose: Purpose = Purpose.informational,
    first_message: bool = False,
    max_segments: int | None = None,
    *,
    allow: Iterable[str] = (),
    subject: str | None = None,
    measure: str | None = None,
) -> LintResult:
    """Check one message (or template) against the guardrails.

    `allow`: waivable codes an approver accepted for this text. `measure`: the text to count segments on
    (a template rendered with sample values); defaults to `text`.
    """
    waived = set(allow) & WAIVABLE
    problems: list[LintProblem] = []
    warnings: list[LintProblem] = []
    healthcare = is_healthcare(vertical)
    # a push notification shows on the lock screen like a text
    phone_channel = channel in (Channel.sms, Channel.whatsapp, Channel.push)
    content = _normalise(f"{subject}\n{text}" if subject else text)

    flagged: set[str] = set()
    for code, pattern, message in _RULES:
        if (code == "marketing" and purpose == Purpose.marketing) or code in flagged:
            continue
        found = pattern.search(content)
        if found:
            flagged.add(code)
            problems.append(LintProblem(code=code, message=f"{message}: {found.group(0)!r}"))
    fields, well_formed = _placeholders(text)
    if subject:
        subject_fields, subject_ok = _placeholders(subject)
        fields |= subject_fields
        well_formed = well_formed and subject_ok
    if not well_formed:
        problems.append(LintProblem(code="bad_placeholder", message="unbalanced { or } in the text"))
    unknown = sorted(f for f in fields if f not in ALLOWED_VARIABLES)
    if unknown:
        problems.append(LintProblem(code="unknown_variable", message="unknown variables: " + ", ".join(unknown)))

    if healthcare and phone_channel:
        leaks = [p.code for p in problems if p.code == "medical"]
        revealing = sorted(fields & PHI_VARIABLES)
        if leaks or revealing:
            what = "health information" if leaks else "the appointment type (" + ", ".join(revealing) + ")"
            problems.append(LintProblem(code="phi_in_sms",
                                        message=f"{what} must not be sent by {channel.value} in a healthcare program"))
        if purpose == Purpose.marketing:
            problems.append(LintProblem(code="marketing_in_healthcare",
                                        message="healthcare-exempt texts must not carry marketing"))
    if first_message and channel == Channel.sms and "help_text" not in fields and not _OPT_OUT_TEXT.search(content):
        problems.append(LintProblem(code="missing_opt_out",
                                    message="the first SMS must say how to opt out ('Reply STOP to opt out')"))
    if purpose == Purpose.marketing and channel == Channel.email and not _UNSUBSCRIBE_TEXT.search(content):
        problems.append(LintProblem(code="missing_unsubscribe", message="a marketing email must offer an unsubscribe"))

    measured = text if measure is None else measure
    if channel == Channel.sms:
        encoding, segments = sms_encoding(measured)
        avoidable = sorted({ch for ch in measured if ch in _SMS_REPLACEMENTS or _is_emoji(ch)})
        if avoidable:
            shown = " ".join(f"U+{ord(ch):04X}" for ch in avoidable)
            problems.append(LintProblem(
                code="ucs2_avoidable",
                message=f"smart quotes, dashes, odd spaces or emoji ({shown}) force UCS-2 (70 characters a segment)",
            ))
        elif encoding == "UCS-2":
            warnings.append(LintProblem(code="ucs2", message="non-GSM letters make this UCS-2: 70 characters a "
                                        "segment"))
        limit = 1 if healthcare else max_segments
        if limit is not None and segments > limit:
            problems.append(LintProblem(code="too_long", message=f"{segments} segments > {limit} allowed"))
    else:
        encoding, segments = "UTF-8", 1

    kept = [p for p in problems if p.code not in waived]
    warnings.extend(LintProblem(code=p.code, message=f"waived by approver: {p.message}") for p in problems
                    if p.code in waived)
    return LintResult(ok=not kept, problems=kept, encoding=encoding, segments=segments, warnings=warnings)


def lint_template(
    template: Template,
    vertical: str = "general",
    first_message: bool = False,
    max_segments: int | None = None,
    help_text: str | None = None,
) -> LintResult:
    """Lint a template as approved: words on the template, length on a sample rendering."""
    samples = sample_variables(template.locale)
    if help_text:
        samples["help_text"] = help_text
    try:
        _, measured = render(template, {k: samples.get(k, "xxxxxxxx") for k in _placeholders(template.body)[0]})
    except (KeyError, ValueError, IndexError):
        measured = template.body
    result = lint(
        template.body, template.channel, vertical=vertical, purpose=template.purpose, first_message=first_message,
        max_segments=max_segments, allow=template.lint_exceptions, subject=template.subject, measure=measured,
    )
    result.preview = measured
    return result


class TemplateNotFound(LookupError):
    pass


class MissingVariable(KeyError):
    """A template names a variable the caller did not supply."""


def template_ids_for(template_id: str, kind: str | None = None, segment: str | None = None) -> list[str]:
    """The ids a step's template is looked up by, most specific first: words for the case kind and segment, for the
    kind, then the generic words ("missed_first.customer_cancel.first_time", "missed_first.customer_cancel",
    "missed_first")."""
    ids = []
    if kind and segment:
        ids.append(f"{template_id}.{kind}.{segment}")
    if kind:
        ids.append(f"{template_id}.{kind}")
    ids.append(template_id)
    return ids


def select_template(templates: list[Template], template_id: str, channel: Channel, locale: str,
                    kind: str | None = None, segment: str | None = None) -> Template:
    """The newest approved version for the channel: the words for the case kind (and segment) before the generic
    ones, in the contact's locale or else English.

    Unapproved templates are never returned, whatever their version.
    """
    base = locale.split("-")[0].lower()
    for wanted_id in template_ids_for(template_id, kind, segment):
        for wanted in dict.fromkeys((locale.lower(), base, "en")):
            found = [
                t for t in templates
                if t.id == wanted_id and t.channel == channel and t.locale.lower() == wanted and t.approved
                and t.approved_by
            ]
            if found:
                return max(found, key=lambda t: t.version)
    raise TemplateNotFound(f"no approved template {template_id!r} for {channel.value}")


def content_variables(template: Template, variables: dict[str, str]) -> dict[str, str]:
    """A provider template's numbered variables ({"1": ..., "2": ...}) from the template's `content_variables`
    names, in order. A missing variable raises KeyError, as `render` does."""
    return {str(i): variables[name] for i, name in enumerate(template.content_variables, start=1)}


OFFER_VARIABLES = frozenset({"slot_list", "booking_link", "offer_expires"})


def needs_offer(templates: list[Template], template_id: str) -> bool:
    """Whether some version of the template shows offered slots or the booking link: the case then holds slots
    before sending it, so that those variables are there."""
    prefix = f"{template_id}."
    return any((t.id == template_id or t.id.startswith(prefix)) and _placeholders(t.body)[0] & OFFER_VARIABLES
               for t in templates)


class _SafeVars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise MissingVariable(key)


def render(template: Template, variables: dict[str, str]) -> tuple[str | None, str]:
    """Subject and body with variables filled in; a variable the template names must be supplied.

    Values cannot inject placeholders or format specs: braces in values are neutralised.
    """
    clean = _SafeVars({k: str(v).replace("{", "(").replace("}", ")") for k, v in variables.items()})
    body = template.body.format_map(clean)
    subject = template.subject.format_map(clean) if template.subject else None
    return subject, body


# ---------------------------------------------------------------- whole-policy checks


class PolicyProblem(BaseModel):
    severity: Literal["error", "warning"]
    code: str
    loc: tuple[str | int, ...]  # field path inside the policy file
    message: str


def _first_step_templates(program: Program) -> set[str]:
    return {seq.steps[0].template for seq in program.sequences.values() if seq.steps}


def lint_policy(policy: PolicyFile) -> list[PolicyProblem]:
    """Everything wrong with a policy that the schema alone cannot see.

    Errors: an approved template that fails the linter in any program that may send it, healthcare
    programs whose caps are looser than 1 a day and 3 a week, cross-reference problems. Warnings: things
    an author should look at (a step channel without a template, unapproved templates that would fail).
    """
    out: list[PolicyProblem] = [
        PolicyProblem(severity="error", code="cross_reference", loc=loc, message=msg)
        for loc, msg in cross_check(policy)
    ]
    for i, t in enumerate(policy.templates):
        for program in policy.programs:
            first = program.messages.require_opt_out_on_first_sms and t.id in _first_step_templates(program)
            result = lint_template(t, vertical=program.vertical, first_message=first,
                                   max_segments=program.messages.max_sms_segments, help_text=policy.help_text)
            for p in result.problems:
                out.append(PolicyProblem(
                    severity="error" if t.approved else "warning", code=p.code, loc=("templates", i, "body"),
                    message=f"{'approved' if t.approved else 'unapproved'} template {t.id} {t.channel.value}/"
                            f"{t.locale} v{t.version} fails lint in program {program.name!r} "
                            f"({program.vertical}): {p.message}",
                ))
    for field, text in (("help_text", policy.help_text), ("opt_out_confirmation", policy.opt_out_confirmation)):
        result = lint(text, Channel.sms)
        for p in result.problems:
            out.append(PolicyProblem(severity="error", code=p.code, loc=(field,), message=f"{field}: {p.message}"))
    if not _OPT_OUT_TEXT.search(_normalise(policy.help_text)):
        out.append(PolicyProblem(severity="warning", code="help_without_stop", loc=("help_text",),
                                 message="help_text should say how to opt out (Reply STOP ...)"))
    approved = {(t.id, t.channel) for t in policy.templates if t.approved}
    for p_index, program in enumerate(policy.programs):
        for segment, seq in program.sequences.items():
            for s_index, step in enumerate(seq.steps):
                for ch in step.channels:
                    if (step.template, ch) not in approved:
                        out.append(PolicyProblem(
                            severity="warning", code="missing_channel_template",
                            loc=("programs", p_index, "sequences", segment.value, "steps", s_index, "channels"),
                            message=f"no approved {ch.value} version of {step.template!r}: that channel will be "
                                    "skipped for this step",
                        ))
        for name in ENGINE_TEMPLATES:
            if not any(t_id == name for t_id, _ in approved):
                out.append(PolicyProblem(severity="warning", code="missing_engine_template",
                                         loc=("templates",), message=f"no approved template {name!r}, which the "
                                         f"engine sends while rebooking (program {program.name!r})"))
        if program.rebooking.enabled and program.rebooking.backfill.enabled:
            for name in BACKFILL_TEMPLATES:
                if not any(t_id == name for t_id, _ in approved):
                    out.append(PolicyProblem(
                        severity="warning", code="missing_backfill_template", loc=("templates",),
                        message=f"no approved template {name!r}: freed slots of program {program.name!r} cannot "
                                "be offered to the waitlist (set rebooking.backfill.enabled: false to silence)"))
        send = program.send
        if is_healthcare(program.vertical):
            daily = any(c.count <= 1 and c.hours >= 24 for c in send.caps)
            weekly = any(c.count <= 3 and c.hours >= 168 for c in send.caps) or any(
                c.count <= 1 and c.hours >= 56 for c in send.caps
            )
            if not (daily and weekly):
                out.append(PolicyProblem(
                    severity="error", code="healthcare_caps", loc=("programs", p_index, "send", "caps"),
                    message="healthcare programs must cap messages at 1 per 24 h and 3 per 168 h "
                            "(FCC healthcare exemption)",
                ))
            if send.allowed_regions != ["US"]:
                out.append(PolicyProblem(
                    severity="warning", code="healthcare_regions", loc=("programs", p_index, "send"),
                    message="healthcare programs should set allowed_regions: [US] (HIPAA SMS is US-only)",
                ))
        for state, (start, end) in STATUTORY_STATE_WINDOWS.items():
            mine = send.state_windows.get(state)
            looser = mine is None or mine[0] < start or mine[1] > end
            if looser and (send.window_start < start or send.window_end > end):
                out.append(PolicyProblem(
                    severity="warning", code="state_window", loc=("programs", p_index, "send", "state_windows"),
                    message=f"{state} allows only {start}-{end}; the engine enforces that floor anyway",
                ))
        if program.review.lapse_action.value == "proceed":
            out.append(PolicyProblem(
                severity="warning", code="lapse_proceed", loc=("programs", p_index, "review", "lapse_action"),
                message="'proceed' only applies to high-value and repeat reviews; unclear, disputed and sensitive "
                        "reviews escalate instead",
            ))
        if not program.reviewers:
            out.append(PolicyProblem(severity="warning", code="no_reviewers", loc=("programs", p_index, "reviewers"),
                                     message=f"program {program.name!r} names no reviewers"))
    out.extend(_words_per_kind(policy))
    out.extend(_variables_per_step(policy))
    if not policy.approved_by:
        out.append(PolicyProblem(severity="warning", code="unapproved_policy", loc=("approved_by",),
                                 message="the policy names no approver (approved_by)"))
    return _dedupe(out)


# kinds whose appointment may still be ahead when the case starts: their words must not speak of a missed visit
FUTURE_KINDS = frozenset({CaseKind.customer_cancel, CaseKind.business_cancel, CaseKind.late_cancel,
                          CaseKind.reschedule_request})
# kinds that go straight to an offer (no sequence): the engine's offer templates are their words
OFFER_ONLY_KINDS = frozenset({CaseKind.reschedule_request})
_MISSED_WORDS = re.compile(r"\bmiss(?:ed)? (?:you|your)\b|\byour missed\b|\bwe missed\b|\bmissed (?:appointment|visit)"
                           r"|\bno[- ]?show"
                           r"|\bdidn'?t see you\b|\bextranamos\b|\bno (?:le|te|los) vimos\b|\bfalt[oó]\b"
                           r"|\bno (?:se )?present[oó]\b")


def _words_per_kind(policy: PolicyFile) -> list[PolicyProblem]:
    """Every kind a program can start has approved words for every step and channel, and the words fit the kind
    (a customer who cancelled ahead is never told "we missed you" about a date still to come)."""
    out: list[PolicyProblem] = []
    for p_index, program in enumerate(policy.programs):
        for kind in program.recover_kinds:
            if kind in OFFER_ONLY_KINDS:
                continue
            for segment, seq in program.sequences.items():
                for s_index, step in enumerate(seq.steps):
                    loc: tuple[str | int, ...] = ("programs", p_index, "sequences", segment.value, "steps", s_index)
                    for channel in step.channels:
                        try:
                            chosen = select_template(policy.templates, step.template, channel, "en", kind=kind.value,
                                                     segment=segment.value)
                        except TemplateNotFound:
                            continue  # the channel is skipped (missing_channel_template says so)
                        if kind in FUTURE_KINDS and _MISSED_WORDS.search(_normalise(chosen.body)):
                            out.append(PolicyProblem(
                                severity="error", code="words_for_kind", loc=loc,
                                message=f"{kind.value} cases of program {program.name!r} would send {chosen.id} "
                                        f"({channel.value}), which speaks of a missed visit; approve "
                                        f"{step.template}.{kind.value} with words for this kind"))
                    if not any(_approved_any(policy.templates, t_id, ch) for ch in step.channels
                               for t_id in template_ids_for(step.template, kind.value, segment.value)):
                        out.append(PolicyProblem(
                            severity="error", code="no_words_for_kind", loc=loc,
                            message=f"program {program.name!r} can start {kind.value} cases but no approved "
                                    f"template {step.template!r} (or {step.template}.{kind.value}) exists"))
    return out


def _approved_any(templates: list[Template], template_id: str, channel: Channel) -> bool:
    return any(t.id == template_id and t.channel == channel and t.approved for t in templates)


_BASE_VARIABLES = frozenset({"first_name", "appointment_type", "appointment_date", "appointment_time",
                             "business_name", "help_text"})
# what each message the engine sends has to fill its variables with; sequence steps hold an offer first when they
# show slots or the link (workflows/case_sequence.py), so those are there too
STEP_VARIABLES: dict[str, frozenset[str]] = {
    "offer_slots": _BASE_VARIABLES | OFFER_VARIABLES, "slot_taken": _BASE_VARIABLES | OFFER_VARIABLES,
    "offer_closest": _BASE_VARIABLES | OFFER_VARIABLES, "confirm_booking": _BASE_VARIABLES | {"new_appointment_time"},
    "no_slots": _BASE_VARIABLES, "waitlist_offer": _BASE_VARIABLES, "slot_gone": _BASE_VARIABLES,
}
SEQUENCE_VARIABLES = _BASE_VARIABLES | OFFER_VARIABLES


def _variables_per_step(policy: PolicyFile) -> list[PolicyProblem]:
    """Every variable a template names is filled where the template is sent (a send would fail otherwise)."""
    out: list[PolicyProblem] = []
    step_templates = {s.template for p in policy.programs for q in p.sequences.values() for s in q.steps}
    for i, t in enumerate(policy.templates):
        base_id = t.id.split(".")[0]
        if base_id in STEP_VARIABLES and base_id not in step_templates:
            allowed = STEP_VARIABLES[base_id]
        elif base_id in step_templates:
            allowed = SEQUENCE_VARIABLES | (STEP_VARIABLES.get(base_id, frozenset()))
        else:
            continue
        fields = _placeholders(t.body)[0] | (_placeholders(t.subject)[0] if t.subject else set())
        missing = sorted(f for f in fields & ALLOWED_VARIABLES if f not in allowed)
        if missing:
            out.append(PolicyProblem(
                severity="error" if t.approved else "warning", code="variable_unavailable",
                loc=("templates", i, "body"),
                message=f"template {t.id} {t.channel.value}/{t.locale} uses {', '.join(missing)}, which is not "
                        "available where it is sent"))
    return out


def _dedupe(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    seen: set[tuple[str, str, tuple[str | int, ...], str]] = set()
    out: list[PolicyProblem] = []
    for p in problems:
        key = (p.severity, p.code, p.loc, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
