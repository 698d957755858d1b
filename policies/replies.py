"""Understanding a customer's reply to a recovery message. Deterministic rules; ambiguity never books.

Pure: the clock (`now`) and the recipient's zone are inputs, nothing is read from the environment.

Order of the rules, and why:
1. Revocation first. An FCC per-se word (stop, quit, end, revoke, opt out, cancel, unsubscribe) or a
   keyword (English, Spanish) said as the reply, or as a clause of it, in any case and with any punctuation
   or politeness ("STOP", "Stop please.", "opt-out", "Unsubscribe me", "stpo"), and reasonable-means wording
   ("don't text me", "no me manden mas mensajes", "baja") revoke at once. A per-se word used inside other
   words ("is the bus stop near you?", "does the session end before 5?") does not: the rest of the reply is
   understood and the customer gets the one clarification FCC 24-24 allows ("Reply STOP to stop all texts
   from us"). "Cancel my appointment" cancels the appointment, "not interested" closes the recovery; neither
   revokes consent.
2. START / UNSTOP (and YES when the contact is opted out) re-subscribe; HELP / INFO / AYUDA.
3. Statements about the missed visit: wrong person, dispute ("I was there"), running late.
4. A slot choice: option numbers and ordinals, then days/dates/times matched ONLY against the offered
   slots in the recipient's zone. One match books; several, none or a contradiction never do.
5. Reschedule / decline wording, questions, bare yes / no, then `other`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, Field

from domain.models import ReplyIntent, ReplyUnderstanding
from policies.zones import UTC_ZONE, zone_of

MAX_TEXT = 2000  # longer texts are cut: replies are SMS-sized and regexes must stay cheap


class ReplyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    offered: list[datetime] = Field(default_factory=list)
    now: datetime
    timezone: str = "UTC"
    review_below: float = 0.75
    # The contact is currently opted out: a bare YES then re-subscribes (CTIA) instead of picking a slot.
    opted_out: bool = False
    # Read fee, deposit, charge and refund questions as `payment` (cases started before the payment hand-off
    # read them as before)
    payments: bool = True


# --------------------------------------------------------------------------- text preparation

def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


FILLER = _wordset(
    "please pls plz plse plis pleas thanks thank thankyou you thx ty tnx tks now hi hello hey hola buenas "
    "buenos dias tardes por favor porfa porfavor gracias just ok okay k kk the already ya sir maam again "
    "right away immediately asap oh um uh hmm well so alright"
)


@dataclass
class _Text:
    raw: str
    words: str  # lower case, accents and punctuation removed, apostrophes dropped ("don't" -> "dont")
    tokens: list[str]
    core: list[str]  # tokens without greetings / politeness / filler
    clauses: list[str]  # `words`-style clauses split at punctuation
    question: bool
    emojis: set[str]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk") or 0x1F000 <= ord(char) <= 0x1FAFF


def _prepare(text: str) -> _Text:
    raw = unicodedata.normalize("NFKC", text[:MAX_TEXT])
    emojis = {c for c in raw if _is_emoji(c)}
    low = _strip_accents(raw.lower())
    low = re.sub(r"[\u2018\u2019\u02bc`\u00b4]", "'", low)
    low = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", low)  # "3 p.m." -> "3 pm"
    low = re.sub(r"(\d)\.(\d\d)\b", r"\1:\2", low)  # "3.30" -> "3:30"
    low = low.replace("'", "")
    low = re.sub(r"([a-z])\1{2,}", r"\1", low)  # "STOPPP", "yesss", "nooo"
    low = re.sub(r"\b(?:[a-z][ .]){2,}[a-z]\b", lambda m: re.sub(r"[ .]", "", m.group(0)), low)  # "S T O P"
    low = re.sub(r"\bopt[\s\-_]*out\b", "optout", low)
    low = re.sub(r"\bopt[\s\-_]*in\b", "optin", low)
    low = re.sub(r"\bun[\s\-]+(stop|subscribe)\b", r"un\1", low)
    low = re.sub(r"\bre[\s\-]+(book|schedule|subscribe)", r"re\1", low)
    low = re.sub(r"(\d)\s*-\s*ish\b", r"\1 ish", low)
    kept = re.sub(r"#(?!\s*\d)", " number ", re.sub(r"[^a-z0-9:/#?.,;!\s]", " ", low))
    clauses = [re.sub(r"\s+", " ", c).strip() for c in re.split(
        r"[?.,;!]+|\s(?:but|pero|instead|how about|what about|que tal|although|though)\s", f" {kept} ")]
    words = re.sub(r"\s+", " ", re.sub(r"[?.,;!]", " ", kept)).strip()
    tokens = words.split()
    core = [t for t in tokens if t not in FILLER and t != "#"]
    question = "?" in raw or "\u00bf" in raw
    return _Text(raw, words, tokens, core, [c for c in clauses if c], question, emojis)


def _has(pattern: str, words: str) -> bool:
    return re.search(pattern, words) is not None


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): catches 'sotp', 'stopp', 'unsuscribe'."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


# --------------------------------------------------------------------------- results


@dataclass
class _Verdict:
    intent: ReplyIntent
    confidence: float
    reason: str
    slot_index: int | None = None
    review: bool = False  # a human must look whatever the confidence (ambiguity, dispute, dual reading)
    clarify: bool = False  # an opt-out word inside other words: ask once whether all texts should stop


def _finish(inp: ReplyInput, v: _Verdict) -> ReplyUnderstanding:
    # A slot index only ever travels with pick_slot; a pick without one is by definition unresolved.
    slot = v.slot_index if v.intent == ReplyIntent.pick_slot else None
    review = v.review or v.confidence < inp.review_below or (v.intent == ReplyIntent.pick_slot and slot is None)
    return ReplyUnderstanding(intent=v.intent, slot_index=slot, confidence=round(v.confidence, 2),
                              needs_review=review, reason=v.reason, clarify_opt_out=v.clarify)


# --------------------------------------------------------------------------- 1. revocation

# FCC 24-24 per-se words (plus the usual platform spellings). Matched as whole tokens anywhere.
PER_SE = frozenset({"stop", "stopall", "quit", "end", "revoke", "optout", "cancel", "unsubscribe", "unsub"})
# Keywords carriers and platforms also honour, and Spanish/French equivalents: same treatment.
KEYWORDS = frozenset({"cancelar", "cancela", "cancelen", "arret", "arreter", "desuscribir", "desuscribirme",
                      "desuscribanme", "baja", "basta", "remove", "detener", "detengan"})
# Words that only revoke when they are the whole reply ("ALTO", "PARA"): inside a sentence they mean
# "tall" / "for".
BARE_ONLY = frozenset({"alto", "para", "parar", "paren", "td", "stp", "nomas"})
# Misspellings of per-se words are checked by edit distance on one-word replies; these real words are
# one edit away and mean something else.
_NOT_TYPOS = frozenset({"step", "shop", "slot", "spot", "top", "sop", "atop", "quite", "quiet", "suit", "quiz",
                        "quilt", "stay", "stor", "and", "send", "bend", "lend", "tend", "cancer", "candle"})
_CONTACT_VERB = r"(text\w*|txt\w*|messag\w*|msg\w*|msj\w*|sms|contact\w*|call\w*|email\w*|e mail\w*|writ\w*|send\w*" \
                r"|bother\w*|spam\w*|harass\w*|reach\w* out|ping\w*)"
_MESSAGES = r"(texts?|txts?|messages?|msgs?|sms|emails?|calls?|notifications?|reminders?|alerts?|spam)"
_ES_SEND = r"(manden|mande|mandes|mandar\w*|envien|envie|envies|enviar\w*|escriban|escriba|escribas|escribir\w*" \
           r"|contacten|contacte|contactar\w*|llamen|llame|llamar\w*|molesten|moleste|molestar\w*|texteen|textear\w*)"
_ES_MESSAGES = r"(mensajes?|mensajitos|textos?|sms|msjs?|notificaciones|recordatorios|correos?|llamadas|whats\w*)"

REASONABLE_MEANS: list[tuple[str, str]] = [
    (rf"\b(dont|do not|never|pls dont|please dont)\s+(ever\s+)?(again\s+)?{_CONTACT_VERB}\s*(me|us|this)?\b",
     "asks not to be contacted"),
    (rf"\b(stop|quit|cease|no more|enough( with)?( the)?|sick of|tired of)\s+(the\s+|your\s+|these\s+|all\s+"
     rf"|all the\s+|with the\s+|sending me\s+)?({_CONTACT_VERB}|{_MESSAGES})", "asks the messages to stop"),
    (r"\bleave (me|us) (alone|be)\b|\bgo away\b|\bget lost\b|\b(f|fuck|piss|buzz) off\b", "asks to be left alone"),
    (r"\b(remove|delete|erase|lose)\s+(me|my (number|phone|info\w*|contact|details|data|#)|us|this number)"
     r"(\s+(from|off)\b.*)?", "asks to be removed"),
    (r"\btake (me|my number|us) off\b|\boff (your|the|this|ur) (list|mailing list|contact list|texting list)\b",
     "asks to be removed from the list"),
    (r"\b(dont|do not|no longer|never|not) (want|wish|need|like)( to)?( (get|receive|have))? (any |these |your "
     rf"|more |any more |anymore )*{_MESSAGES}", "does not want messages"),
    (rf"\bnot interested( in)?( (any|these|your|more|the|receiving|getting))* {_MESSAGES}",
     "not interested in messages"),
    (r"\b(this is|its|thats|reported? (as|for)|report(ing)? (you|this)( as| for)?) (spam|harass\w*)\b"
     r"|\bharass\w*\b|\bblock(ing|ed)? (you|this|your|ur)\b", "reports spam / harassment"),
    (r"\bunenroll\b|\bunsuscribe\b|\bunsubscrib\w*|\bopt me out\b|\bstop all\b", "unsubscribe wording"),
    # Spanish
    (rf"\bno\s+(me\s+|nos\s+|le\s+)?(vuelvan\s+a\s+|sigan\s+)?{_ES_SEND}", "pide que no le contacten (es)"),
    (r"\bno\s+mas\s*(" + _ES_MESSAGES + r"|por favor|porfa|gracias|$)|\bya\s+no\s+mas\b",
     "'no mas' (es)"),
    (rf"\b(ya\s+)?no\s+(quiero|deseo|necesito)\s+(recibir\s+|que me (manden|envien|escriban|contacten)\s*)?"
     rf"(mas\s+|ningun\w*\s+|sus\s+|estos\s+|los\s+)*{_ES_MESSAGES}", "no quiere mensajes (es)"),
    (r"\bno\s+quiero\s+que\s+me\s+" + _ES_SEND, "no quiere que le contacten (es)"),
    (r"\bdej(en|a|e)n?\s+de\s+" + _ES_SEND, "pide que dejen de escribir (es)"),
    (r"\bdej(en|a|e)(me|nos)\s+(en paz|tranquil\w*)\b|\bno\s+(me\s+)?molest\w*",
     "pide que le dejen en paz (es)"),
    (r"\b(sac|quit|borr|elimin)(a|e|en)(me|nos)\b|\b(saquen|quiten|borren|eliminen)\s+(me|mi)\b"
     r"|\bde\s+(su|la|sus)\s+lista",
     "pide que le quiten de la lista (es)"),
    (r"\b(dar|darme|darse|doy|de|den)\s+(me\s+)?de\s+baja\b|\bbaja\b", "baja (es)"),
]


def _stop_typo(word: str) -> str | None:
    if word in _NOT_TYPOS or len(word) < 3:
        return None
    for target in ("stop", "quit", "revoke", "optout", "cancel", "unsubscribe", "stopall", "cancelar"):
        limit = 2 if len(target) >= 8 else 1
        same_start = word[0] == target[0] or word[:2] == target[1::-1]
        if same_start and abs(len(word) - len(target)) <= limit and _edit_distance(word, target) <= limit:
            return target
    return None


def _benign(tokens: list[str], i: int) -> bool:
    """Per-se words used in another sense: 'stop by at 3', 'end of the week', 'please don't cancel'."""
    word = tokens[i]
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    before = tokens[max(0, i - 4):i]
    if word == "stop" and after in ("by", "in", "over", "past"):
        return True
    if word == "end" and (after == "of" or (before and before[-1] == "week")):
        return True
    if word == "cancel":
        if before and before[-1] in ("dont", "not", "never", "didnt", "no"):
            return True
        if before and before[-1] == "to" and any(w in ("called", "emailed", "tried", "phoned", "wanted")
                                                   for w in before):
            return True  # narrative: "I called to cancel yesterday" disputes the no-show
    return False


_APPOINTMENT = r"\b(appointment|appt|apt|appt\w*|booking|reservation|visit|session|consult\w*|cita|turno|visita)\b"


# words that may stand with an opt-out keyword in a reply that is only an opt-out ("stop all texts now please")
_WITH_KEYWORD = _wordset(
    "me all it now this these that them texting texts text txt txts messages message msgs msg sms notifications "
    "subscription list everything please pls plz thanks thank you now asap right away immediately ya ahora mismo "
    "por favor porfa gracias todo todos los mensajes de mi numero"
)


# an opt-out said as a wish or a repeat: "I want to opt out", "I said STOP", "I revoke my consent"
_LEAD_IN = _wordset("i we want wanna need would like to wish said already told you id ive have has consent my from "
                    "your list number us again quiero deseo dije ya")


def _keyword(word: str) -> bool:
    return word in PER_SE or word in KEYWORDS


def _keyword_only(words: list[str]) -> str | None:
    """The keyword when `words` say nothing but it (with politeness and 'texts', 'all', 'me' ...)."""
    found = [i for i, w in enumerate(words) if _keyword(w) and not _benign(words, i)]
    if found and all(_keyword(w) or w in _WITH_KEYWORD or w in FILLER or w in _LEAD_IN for w in words):
        return words[found[0]]
    return None


def embedded_opt_out_word(text: str) -> str | None:
    """A per-se word or keyword standing inside other words, which is not a revocation by itself."""
    t = _prepare(text)
    if _revocation(t) is not None:
        return None
    return _embedded(t)


def _embedded(t: _Text) -> str | None:
    for i, word in enumerate(t.tokens):
        if _keyword(word) and not _benign(t.tokens, i):
            return word
    return None


def is_opt_out(text: str) -> bool:
    """Whether a reply revokes consent at once: the one function every caller (API routing, cases) uses."""
    found = _revocation(_prepare(text))
    return found is not None and found.intent == ReplyIntent.opt_out


def _revocation(t: _Text) -> _Verdict | None:
    if {"\U0001f6d1", "\U0001f6ab", "\u26d4"} & t.emojis:  # stop sign, prohibited, no entry
        return _Verdict(ReplyIntent.opt_out, 0.9, "stop-sign emoji read as STOP")
    whole = _keyword_only(t.tokens)
    if whole:
        per_se = "FCC per-se opt-out word" if whole in PER_SE else "opt-out keyword"
        return _Verdict(ReplyIntent.opt_out, 1.0, f"{per_se} '{whole}'")
    for clause in t.clauses:
        words = clause.split()
        found = _keyword_only(words)
        if found and not (found.startswith("cancel") and _has(_APPOINTMENT, t.words)):
            return _Verdict(ReplyIntent.opt_out, 0.95, f"opt-out keyword '{found}' said as a sentence of the reply")
    tokens = t.tokens
    if tokens and _keyword(tokens[0]) and not _benign(tokens, 0) and len(tokens) > 1 \
            and tokens[1] in ("texting", "messaging", "sending", "contacting", "calling", "emailing", "it", "all"):
        return _Verdict(ReplyIntent.opt_out, 0.95, f"'{tokens[0]} {tokens[1]}'")
    if len(t.core) == 1 and t.core[0] in BARE_ONLY:
        return _Verdict(ReplyIntent.opt_out, 0.95, f"one-word opt-out keyword '{t.core[0]}'")
    for pattern, why in REASONABLE_MEANS:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.opt_out, 0.95, f"reasonable-means revocation: {why}")
    if 1 <= len(t.core) <= 3:
        # each word, and the words run together ("op out" -> "opout" ~ "optout")
        for word in [*t.core, "".join(t.core)] if len(t.core) > 1 else t.core:
            if word in PER_SE or word in KEYWORDS:
                continue  # the word itself was judged above (e.g. "stop by friday")
            target = _stop_typo(word)
            if target:
                return _Verdict(ReplyIntent.opt_out, 0.85, f"looks like a misspelt '{target}'", review=True)
    return None


# --------------------------------------------------------------------------- 2. opt-in and help

_OPT_IN_WORDS = frozenset({"start", "unstop", "subscribe", "resubscribe", "optin", "resume", "alta", "iniciar",
                           "reanudar", "suscribir", "suscribirme", "comenzar", "empezar"})
_AFFIRM = _wordset("yes yeah yea yep yup ye yas y sure si claro dale va vale okey ok okay k kk fine perfect perfecto "
                    "perfecta great good sounds works work that thats for me confirm confirmed confirmo book it do "
                    "absolutely definitely of course por supuesto de acuerdo bueno bien sirve me correct exactly "
                    "lets go cool awesome alright yess yesss yeahh sounds good que thing")
_AFFIRM_EMOJI = frozenset({"\U0001f44d", "\u2705", "\U0001f44c", "\u2714", "\U0001f646", "\U0001f64c"})
_NEG_EMOJI = frozenset({"\U0001f44e", "\u274c", "\u2716"})


def _opt_in(t: _Text, inp: ReplyInput) -> _Verdict | None:
    core = [w for w in t.core if w not in ("me", "back", "again", "up", "texts", "messages", "mensajes")]
    if core and len(core) <= 2 and core[0] in _OPT_IN_WORDS and all(w in _OPT_IN_WORDS or w == "de"
                                                                    for w in core):
        return _Verdict(ReplyIntent.opt_in, 1.0, f"opt-in keyword '{core[0]}'")
    if _has(r"\bunstop\b|\boptin\b|\bopt (me )?back in\b|\bresubscribe\b|\b(dar|darme|doy) (me )?de alta\b", t.words):
        return _Verdict(ReplyIntent.opt_in, 0.95, "asks to re-subscribe")
    if _has(r"\b(start|resume|begin)\s+(texting|messaging|sending|the (texts|messages))\b.*\bagain\b"
            r"|\b(you can|u can|ok to|okay to|please)\s+(text|message|contact)\s+me\s+again\b"
            r"|\bquiero\s+(volver\s+a\s+)?recibir\s+(los\s+)?mensajes\b", t.words):
        return _Verdict(ReplyIntent.opt_in, 0.9, "asks to receive messages again")
    if inp.opted_out and _bare_affirmative(t):
        return _Verdict(ReplyIntent.opt_in, 0.9, "YES from an opted-out contact re-subscribes")
    return None


def _help(t: _Text) -> _Verdict | None:
    words = set(t.core)
    if words and words <= {"help", "info", "ayuda", "informacion", "information", "helpp", "halp", "me", "menu",
                           "more", "mas"} and words & {"help", "info", "ayuda", "informacion", "information",
                                                       "helpp", "halp"}:
        return _Verdict(ReplyIntent.help, 0.95, "HELP keyword")
    return None


# --------------------------------------------------------------------------- 3. statements about the visit

_WRONG_PERSON = [
    r"\bwrong\s+(number|num|numb|nbr|no|#|person|guy|girl|lady|phone|contact|name|people|persona)\b",
    r"\b(you|u|yall|you guys)\s*(have|has|got|ve got|ve|re texting|are texting)\s+(the\s+)?wrong\b",
    r"\b(i|we)\s+(dont|do not|didnt|did not|never)\s+(have|had|make|made|book|booked|schedule|scheduled|set up)"
    r"\s+(an?\s+|any\s+|no\s+|this\s+|that\s+)?(appointment|appt|booking|reservation|visit)",
    r"\b(i|we)\s+(have|had)\s+no\s+(appointment|appt|booking)\b",
    r"\b(i|we)\s+(never|didnt|did not)\s+(book|booked|make|made|schedule|scheduled)\s+(anything|nothing|a thing)\b",
    r"\b(no one|nobody|noone)\s+(here\s+)?(by|named|with|called)\s+(that|this)\s+name\b",
    r"\b(dont|do not)\s+know\s+(who|anyone|any\s+\w+\s+(named|called))\b|\bnever heard of\b",
    r"\bnot\s+my\s+(number|phone|appointment|appt)\b|\bthis\s+(isnt|is not)\s+(him|her|them)\b",
    r"\b(just|recently)\s+got\s+this\s+(number|phone)\b|\bnew\s+(number|phone)\s+who\b",
    r"\b(numero|num)\s+(equivocado|incorrecto|erroneo|equivocada)\b|\bse\s+equivoc\w*",
    r"\bno\s+soy\s+(yo|esa|ese|el|ella|la persona|quien)\b|\bno\s+conozco\s+a\b",
    r"\bno\s+(tengo|tenia|tuve|hice|he hecho|agende)\s+(ninguna\s+|una\s+|la\s+)?cita\b",
]

_DISPUTE = [
    r"\b(i|we)\s+(was|were|am|been)\s+(\w+\s+)?(there|here|at the (office|clinic|shop|door|desk|front)"
    r"|in the (office|lobby|waiting room|clinic|car|parking lot|building|room|meeting|call|zoom)|on time|early"
    r"|on the (call|zoom|line|video|phone|link|meeting)|home|waiting|outside|at home|inside)\b",
    r"\b(i|we)\s+(did\s+|do\s+|actually\s+|totally\s+|definitely\s+|really\s+|def\s+|literally\s+|already\s+)*"
    r"(showed up|show up|came|came in|attended|went|made it|checked in|joined|arrived|logged in|signed in"
    r"|was there|sat (in|there|waiting))\b",
    r"\b(i|we)\s+(waited|sat)\b|\b(been|was)\s+waiting\b",
    r"\b(nobody|no one|noone|they|you|he|she|the (tech|technician|doctor|dr|provider|host|therapist|stylist))\s+"
    r"(never\s+|didnt\s+|did not\s+|wasnt\s+|was not\s+)(show\w*|came|come|call\w*|arriv\w*|answer\w*|open\w*"
    r"|let|join\w*|there|here|pick\w* up)\b",
    r"\b(nobody|no one|noone)\s+(came|showed|called|answered|was there|opened|joined)\b",
    r"\b(you|u|the office|office|door|doors)\s+(were|was)\s+(closed|locked|not there)\b",
    r"\b(i|we)\s+(didnt|did not|never)\s+miss\b|\bnot a no ?show\b|\bwasnt a no ?show\b",
    r"\b(thats|that is|this is)\s+(not true|false|wrong|incorrect|a mistake)\b|^not true\b",
    r"\b(i|we)\s+(already|had)\s+(cancel\w+|reschedul\w+|rebook\w+|called)\b|\bi\s+(cancell?ed|rescheduled)\b",
    r"\bcalled to cancel\b|\bemailed to cancel\b",
    # Spanish
    r"\b(estuve|estuvimos|estaba|estabamos)\s+(\w+\s+)?(ahi|alli|aqui|aca|alla|esperando|puntual|a tiempo"
    r"|en (la|el) (oficina|clinica|consultorio|sala|recepcion|lobby|llamada|casa|puerta))\b",
    r"\b(si|yo|yo si)\s+(fui|asisti|llegue|me presente|estuve|vine)\b|\b(llegue|asisti)\s+(a tiempo|puntual)\b",
    r"\b(nadie|nunca)\s+(vino|llego|me atendio|abrio|contesto|se presento|llegaron|vinieron)\b",
    r"\bno\s+es\s+(cierto|verdad)\b|\bya\s+(habia\s+)?(cancele|cancelado|reprograme|reagende)\b",
]

_RUNNING_LATE = [
    r"\brunning\s+(\w+\s+){0,3}(late|behind)\b|\b(im|i am|were|we are)\s+(\w+\s+){0,2}behind\b",
    r"\b(im|i am|ill be|i will be|will be|gonna be|going to be|might be|may be|be|we are|were|sorry|am)\s+"
    r"(\w+\s+){0,3}late\b",
    r"\b(stuck|caught|sitting|held up)\s+(in\s+)?(traffic|a meeting|work)\b|\btraffic\b",
    r"\bon my way\b|\bon the way\b|\bomw\b|\botw\b|\balmost there\b|\bbe right there\b|\bleaving now\b",
    r"\b(be\s+)?there\s+in\s+(\d+|a few|five|ten|fifteen|twenty|a sec|a minute|a couple)\b",
    r"\b\d+\s*(min|mins|minutes|minute|m)\s+(away|out|late|behind)\b|\blooking for parking\b|\bparking now\b",
    r"\b(voy|ando|estoy|vamos)\s+(en\s+camino|tarde|llegando|retrasad\w*|atrasad\w*)\b|\ben camino\b|\bya voy\b",
    r"\b(llego|llegare|llegaremos|voy a llegar|vamos a llegar)\s+(\w+\s+){0,2}(tarde|en \d+)\b|\btrafico\b",
    r"\bme\s+(retrase|retraso|atrase|atraso)\b",
]


def _statement(t: _Text) -> _Verdict | None:
    for pattern in _WRONG_PERSON:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.wrong_person, 0.9, "says this is the wrong person / no appointment")
    # Past tense "I was late" argues the no-show ("...and you turned me away"): a dispute, not running late,
    # unless the reply goes on to ask for a new time.
    if _has(r"\b(i|we)\s+(was|were|came|arrived|got there)\s+(\w+\s+){0,2}late\b|\bllegue\s+(\w+\s+)?tarde\b",
            t.words):
        if any(_has(p, t.words) for p in _RESCHEDULE):
            return None
        return _Verdict(ReplyIntent.dispute, 0.8, "says they came, late", review=True)
    for pattern in _DISPUTE:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.dispute, 0.9, "disputes the no-show", review=True)
    for pattern in _RUNNING_LATE:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.running_late, 0.9, "says they are running late")
    return None


# --------------------------------------------------------------------------- 4. slot choice

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "uno": 1, "una": 1, "dos": 2,
                 "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6}
_ORDINALS = {"first": 1, "1st": 1, "primer": 1, "primero": 1, "primera": 1, "frist": 1, "second": 2, "2nd": 2,
             "secnd": 2, "segundo": 2, "segunda": 2, "third": 3, "3rd": 3, "tercer": 3, "tercero": 3,
             "tercera": 3, "fourth": 4, "4th": 4, "cuarto": 4, "cuarta": 4, "fifth": 5, "5th": 5, "quinto": 5,
             "quinta": 5}
_MARKERS = frozenset({"option", "opt", "opcion", "choice", "number", "num", "no", "nbr", "slot", "numero", "#",
                      "one", "uno", "una", "la", "el", "time", "horario"})
# Words that may surround a bare choice ("I'll take 2 please", "la segunda me sirve").
_PICK_FILLER = _AFFIRM | _MARKERS | _wordset(
    "i ill id i'd will would take want choose pick go with lets let us do prefer like is im book that this "
    "quiero prefiero escojo elijo tomo me la el lo is be best better works work good fine one ones")
_LAST = frozenset({"last", "ultima", "ultimo", "final"})
_EITHER = r"^any$|\bany\s+(one|works|will do|is fine|is good|of (them|those|these))\b" \
          r"|\b(either|anytime|any time|anyone|whichever|whatever (works|is|time|you)|any of (them|those|these)" \
          r"|any of the \w+|cualquier\w*|la que sea|el que sea|both|all (work|good|fine)|ambos|ambas)\b"

_WEEKDAYS = {
    0: "mon monday mondays mon. lunes",
    1: "tue tues tuesday tuesdays tusday teusday tuseday tuesay martes",
    2: "wed weds wednesday wednesdays wensday wendsday wednsday wenesday miercoles mier",
    3: "thu thur thurs thursday thursdays thrusday thursay thurday jueves",
    4: "fri friday fridays fryday firday viernes",
    5: "sat saturday saturdays sabado",
    6: "sun sunday sundays domingo",
}
WEEKDAY_WORDS = {w: day for day, words in _WEEKDAYS.items() for w in words.split()}
_MONTHS = {
    1: "jan january enero", 2: "feb february febrero", 3: "mar march marzo", 4: "apr april abril",
    5: "may mayo", 6: "jun june junio", 7: "jul july julio", 8: "aug august agosto",
    9: "sep sept september septiembre setiembre", 10: "oct october octubre", 11: "nov november noviembre",
    12: "dec december diciembre",
}
MONTH_WORDS = {w: m for m, words in _MONTHS.items() for w in words.split()}
_MONTH_RE = "|".join(sorted(MONTH_WORDS, key=len, reverse=True))
_TOMORROW = r"\b(tomorrow|tomorow|tommorow|tommorrow|tomorrw|tmrw|tmrow|tmr|tmw|tmrrw|2morrow|2moro|2mrw|manana)\b"
_NEGATION = re.compile(r"\b(not|cant|cannot|can not|dont|doesnt|wont|isnt|no|nope|unable|neither|nor|except"
                       r"|besides|other than|aside from|ningun\w*|tampoco|imposible|busy|ocupad\w*)\b")


@dataclass
class _When:
    weekdays: set[int] = field(default_factory=set)
    dates: set[date] = field(default_factory=set)
    month_days: set[tuple[int | None, int]] = field(default_factory=set)  # (month or None, day)
    hour: int | None = None
    minute: int | None = None
    meridiem: str | None = None  # "am" | "pm"
    part: str | None = None  # morning | afternoon | evening
    after: int | None = None  # minutes after midnight
    before: int | None = None
    pieces: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not self.pieces


def _hour_from(h: str, m: str | None, mer: str | None) -> tuple[int, int, str | None] | None:
    hour, minute = int(h), int(m) if m else 0
    if hour > 23 or minute > 59:
        return None
    mer = {"a": "am", "p": "pm"}.get(mer or "", mer or None)
    if mer and not 1 <= hour <= 12:
        return None
    return hour, minute, mer


def _parse_when(clause: str, now_local: datetime) -> _When:
    """Day and time words in one clause. Only what is said; matching happens against the offered slots."""
    w = _When()
    c = " " + clause + " "
    c = re.sub(r"\b(por|en|de|in|this|esta)\s+la\s+manana\b|\bla\s+manana\b", " morning ", c)
    c = re.sub(r"\b(por|en|de)\s+la\s+tarde\b", " afternoon ", c)
    c = re.sub(r"\besta\s+tarde\b", " today afternoon ", c)
    c = re.sub(r"\b(por|en|de)\s+la\s+noche\b", " evening ", c)
    c = re.sub(r"\besta\s+noche\b|\btonight\b|\btonite\b", " today evening ", c)
    c = re.sub(r"\b(medio\s*dia|mediodia|noon|midday|12 noon)\b", " 12:00 ", c)
    today = now_local.date()
    if _has(r"\b(day after tomorrow|pasado manana)\b", c):
        w.dates.add(today + timedelta(days=2))
        w.pieces.append("day after tomorrow")
        c = re.sub(r"\b(day after tomorrow|pasado manana)\b", " ", c)
    if _has(_TOMORROW, c):
        w.dates.add(today + timedelta(days=1))
        w.pieces.append("tomorrow")
    if _has(r"\b(today|hoy|tdy|2day)\b", c):
        w.dates.add(today)
        w.pieces.append("today")
    for token in c.split():
        if token in WEEKDAY_WORDS:
            w.weekdays.add(WEEKDAY_WORDS[token])
            w.pieces.append(token)
    # dates: "march 14", "14 de marzo", "3/14", "the 14th", "el 14"
    for m in re.finditer(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(st|nd|rd|th)?\b", c):
        w.month_days.add((MONTH_WORDS[m.group(1)], int(m.group(2))))
        w.pieces.append("month day")
    for m in re.finditer(rf"\b(\d{{1,2}})(st|nd|rd|th)?\s+(de\s+|of\s+)?({_MONTH_RE})\b", c):
        w.month_days.add((MONTH_WORDS[m.group(4)], int(m.group(1))))
        w.pieces.append("day month")
    for m in re.finditer(r"\b(\d{1,2})/(\d{1,2})(/\d{2,4})?\b", c):
        a, b = int(m.group(1)), int(m.group(2))
        for month, day in ((a, b), (b, a)):  # US first; the day/month reading is kept for Spanish writers
            if 1 <= month <= 12 and 1 <= day <= 31:
                w.month_days.add((month, day))
        w.pieces.append("numeric date")
    c = re.sub(r"\b\d{1,2}/\d{1,2}(/\d{2,4})?\b", " ", c)
    for m in re.finditer(r"\b(?:the|el|on|dia|day)?\s*(\d{1,2})(st|nd|rd|th)\b(?!\s+(one|option|choice|slot))", c):
        w.month_days.add((None, int(m.group(1))))
        w.pieces.append("day of month")
    for m in re.finditer(r"\b(?:el|dia)\s+(\d{1,2})\b(?!\s*(:|am|pm|a\b|p\b|de la|hrs|horas))", c):
        w.month_days.add((None, int(m.group(1))))
        w.pieces.append("day of month")
    # times
    found = None
    for m in re.finditer(r"\b(\d{1,2}):(\d{2})\s*(am|pm|a|p)?\b", c):
        found = _hour_from(m.group(1), m.group(2), m.group(3))
        break
    if not found:
        suffixed = re.search(r"\b(\d{1,2})(?:\s*(am|pm|hrs|h|oclock|o clock|ish|horas)|(a|p))\b", c)
        if suffixed:
            mer = suffixed.group(2) if suffixed.group(2) in ("am", "pm") else suffixed.group(3)
            found = _hour_from(suffixed.group(1), None, mer)
    if not found:  # "thursday 10", "martes 5": a number right after a day is an hour
        day_words = "|".join([*WEEKDAY_WORDS, "today", "tomorrow", "tmrw", "hoy", "manana"])
        after_day = re.search(rf"\b({day_words})\s+(\d{{1,2}})\b(?!\s*(st|nd|rd|th|/|de\s))", c)
        if after_day:
            found = _hour_from(after_day.group(2), None, None)
    if not found:  # "9 tomorrow", "3 el martes": a number right before a day is an hour
        day_words = "|".join([*WEEKDAY_WORDS, "today", "tomorrow", "tmrw", "hoy", "manana"])
        before_day = re.search(rf"(?<![:/\d])\b(\d{{1,2}})\s+(el\s+|on\s+|this\s+)?({day_words})\b", c)
        if before_day and 1 <= int(before_day.group(1)) <= 12:
            found = _hour_from(before_day.group(1), None, None)
    if not found:
        at = re.search(r"(?:\b(?:at|@|around|by|arnd|abt|about|a las|las|la|a la)\s*|@)(\d{1,2})(?::(\d{2}))?\b"
                       r"(?!\s*(st|nd|rd|th|/))", c)
        if at:
            found = _hour_from(at.group(1), at.group(2), None)
    if found:
        w.hour, w.minute, w.meridiem = found
        w.pieces.append("time")
        if w.meridiem is None:
            if _has(r"\bde la (tarde|noche)\b|\b(in the )?(afternoon|evening)\b|\bpm\b", c):
                w.meridiem = "pm"
            elif _has(r"\bde la manana\b|\bmorning\b|\bam\b", c):
                w.meridiem = "am"
    for m in re.finditer(r"\b(?P<word>after|despues de(?: las)?|from|desde(?: las)?|before|antes de(?: las)?|until"
                         r"|hasta(?: las)?)\s+(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<mer>am|pm)?\b", c):
        hm = _hour_from(m.group("h"), m.group("m"), m.group("mer"))
        if hm:
            hour = hm[0] + 12 if hm[2] == "pm" and hm[0] < 12 else hm[0]
            if hm[2] is None and 1 <= hour <= 7:
                hour += 12  # "after 5" in appointment talk is 5 pm
            mins = hour * 60 + hm[1]
            if m.group("word").startswith(("after", "despues", "from", "desde")):
                w.after = mins
            else:
                w.before = mins
            w.pieces.append("range")
            if w.hour is not None and w.hour == int(m.group("h")):
                w.hour = w.minute = w.meridiem = None
                w.pieces.remove("time")
    if _has(r"\b(morning|mornin|morn|am)\b", c) and w.hour is None:
        w.part = "morning"
    elif _has(r"\b(afternoon|aft|arvo|pm|after lunch)\b", c) and w.hour is None:
        w.part = "afternoon"
    elif _has(r"\b(evening|night|after work|tarde noche)\b", c) and w.hour is None:
        w.part = "evening"
    if w.part:
        w.pieces.append(w.part)
    return w


def _fits(w: _When, slot: datetime, exact_minute: bool) -> bool:
    if w.weekdays and slot.weekday() not in w.weekdays:
        return False
    if w.dates and slot.date() not in w.dates:
        return False
    if w.month_days and not any(d == slot.day and (mo is None or mo == slot.month) for mo, d in w.month_days):
        return False
    if w.hour is not None:
        if w.meridiem == "pm":
            want = {w.hour % 12 + 12}
        elif w.meridiem == "am":
            want = {w.hour % 12}
        elif w.hour > 12 or w.hour == 0:
            want = {w.hour}
        else:
            want = {w.hour % 12, w.hour % 12 + 12}
        if slot.hour not in want:
            return False
        minute = w.minute or 0
        if (w.minute is not None or exact_minute) and slot.minute != minute:
            return False
    if w.part == "morning" and slot.hour >= 12:
        return False
    if w.part == "afternoon" and not 12 <= slot.hour < 18:  # "5 pm" is still late afternoon / "la tarde"
        return False
    if w.part == "evening" and slot.hour < 17:
        return False
    mins = slot.hour * 60 + slot.minute
    if w.after is not None and mins < w.after:
        return False
    return not (w.before is not None and mins >= w.before)


def _match(w: _When, slots: list[datetime]) -> tuple[list[int], bool]:
    """Indexes of offered slots that fit; `loose` when only the hour matched ('at 3' vs a 3:30 slot)."""
    hits = [i for i, s in enumerate(slots) if _fits(w, s, exact_minute=True)]
    if hits or w.hour is None or w.minute is not None:
        return hits, False
    return [i for i, s in enumerate(slots) if _fits(w, s, exact_minute=False)], True


def _describe(slot: datetime) -> str:
    return slot.strftime("%a %d %b %H:%M")


def to_local(dt: datetime, zone: tzinfo) -> datetime:
    # Naive times are wall-clock times in the recipient's zone (how a person would type them).
    return dt.replace(tzinfo=zone) if dt.tzinfo is None else dt.astimezone(zone)


def _choice_number(t: _Text, count: int) -> tuple[list[int], str] | None:
    """Option numbers and ordinals: '2', '#2', 'option 2', 'the second one', 'la segunda', 'the last one'."""
    words = t.words
    explicit = [int(m.group(2)) for m in re.finditer(
        r"(\b(?:option|opt|opcion|choice|number|num|nbr|numero|slot|no)\s*#?\s*|#\s*)(\d{1,2})\b(?!\s*(:|am|pm|/))",
        words)]
    explicit += [_NUMBER_WORDS[m.group(1)] for m in re.finditer(
        r"\b(?:option|opt|opcion|choice|number|num|numero|slot)\s+(" + "|".join(_NUMBER_WORDS) + r")\b", words)]
    if explicit:
        return sorted(set(explicit)), "option number"
    core = [w for w in t.core if w not in _PICK_FILLER or w in _NUMBER_WORDS or w in _ORDINALS]
    core = [w for w in core if w not in ("or", "and", "o", "y", "&")]
    if any(w in _ORDINALS or w in _LAST for w in core):  # "the second one": 'one' is the noun, not a number
        core = [w for w in core if w not in ("one", "uno", "una")]
    if not core or len(core) > 3:
        return None
    picks: list[int] = []
    how = ""
    for word in core:
        if word.isdigit() and len(word) <= 2:
            picks.append(int(word))
            how = "option number"
        elif word in _NUMBER_WORDS:
            picks.append(_NUMBER_WORDS[word])
            how = "option number"
        elif word in _ORDINALS:
            picks.append(_ORDINALS[word])
            how = "ordinal"
        elif word in _LAST:
            picks.append(count)
            how = "ordinal"
        else:
            return None
    return sorted(set(picks)), how


def _slot_choice(t: _Text, inp: ReplyInput, slots: list[datetime], now_local: datetime) -> _Verdict | None:
    count = len(slots)
    if count == 0:
        return _time_choice(t, slots, now_local)  # a proposed time with nothing on offer: reschedule
    number = _choice_number(t, count)
    if number is not None:
        picks, how = number
        if len(picks) > 1:
            return _Verdict(ReplyIntent.pick_slot, 0.5, f"names several options ({how}): unclear which")
        n = picks[0]
        # "the 2nd" / "2nd" may also be a day of the month: both readings must agree.
        day_reading: list[int] = []
        if how == "ordinal" and re.search(r"\b\d{1,2}(st|nd|rd|th)\b", t.words) \
                and not _has(r"\b(one|option|choice|slot|opcion)\b", t.words):
            day_reading = [i for i, s in enumerate(slots) if s.day == n]
        if not 1 <= n <= count:
            if len(day_reading) == 1:
                i = day_reading[0]
                return _Verdict(ReplyIntent.pick_slot, 0.85, f"day {n} of the month matches offered slot {i + 1} "
                                f"({_describe(slots[i])})", slot_index=i)
            by_date = _time_choice(t, slots, now_local) if n > 12 and how == "option number" else None
            if by_date is not None and by_date.slot_index is not None:
                return by_date  # "el 27": a day of the month, not an option
            return _Verdict(ReplyIntent.pick_slot, 0.4, f"option {n} was not offered (only {count})")
        i = n - 1
        if day_reading and day_reading != [i]:
            return _Verdict(ReplyIntent.pick_slot, 0.5, f"'{n}' reads both as option {n} and as a day of the "
                            "month naming another slot")
        return _Verdict(ReplyIntent.pick_slot, 0.95 if how == "option number" else 0.92,
                        f"picked option {n} by {how} ({_describe(slots[i])})", slot_index=i)
    if _has(r"\b(earliest|soonest|earlier one|the earlier|primera hora disponible|la mas pronto|lo antes posible)\b",
            t.words):
        i = min(range(count), key=lambda k: slots[k])
        return _Verdict(ReplyIntent.pick_slot, 0.85, f"asked for the earliest offered slot ({_describe(slots[i])})",
                        slot_index=i)
    if _has(r"\b(latest|later one|the later|last one|the last|la ultima|el ultimo)\b", t.words):
        if _has(r"\b(last one|the last|la ultima|el ultimo)\b", t.words):
            i = count - 1
        else:
            i = max(range(count), key=lambda k: slots[k])
        return _Verdict(ReplyIntent.pick_slot, 0.85, f"picked the last/latest offered slot ({_describe(slots[i])})",
                        slot_index=i)
    return _time_choice(t, slots, now_local)


def _time_choice(t: _Text, slots: list[datetime], now_local: datetime) -> _Verdict | None:
    # Positive clauses narrow one request ("thursday, morning please"); "or" starts an alternative
    # ("tuesday or thursday"); a negated clause ("not tuesday", "no puedo el martes") rules slots out.
    groups: list[_When] = [_When()]
    excluded: set[int] = set()
    said: list[str] = []
    positive = False
    for clause in t.clauses:
        for k, part in enumerate(re.split(r"\s(?:or|o|u|maybe|either)\s", f" {clause} ")):
            if k > 0 and not groups[-1].empty():
                groups.append(_When())
            w = _parse_when(part, now_local)
            if w.empty():
                continue
            said += w.pieces
            if _NEGATION.search(part):
                excluded.update(_match(w, slots)[0])
                continue
            positive = True
            _merge(groups[-1], w)
    wanted: set[int] = set()
    loose = False
    for group in groups:
        if not group.empty():
            hits, was_loose = _match(group, slots)
            loose = loose or was_loose
            wanted.update(hits)
    if not said:
        return None
    if not positive:
        left = [i for i in range(len(slots)) if i not in excluded]
        return _Verdict(ReplyIntent.reschedule, 0.8, f"rules out {len(excluded)} offered slot(s) without naming "
                        f"another ({len(left)} left)")
    wanted -= excluded
    if not wanted:
        return _Verdict(ReplyIntent.reschedule, 0.8, "asks for a day/time that matches none of the offered slots")
    if len(wanted) > 1:
        return _Verdict(ReplyIntent.pick_slot, 0.5, f"day/time fits {len(wanted)} offered slots: unclear which")
    i = wanted.pop()
    confidence = 0.78 if loose else 0.9
    how = "day/time"
    if t.question and not loose:
        confidence, how = 0.85, "day/time (asked as a question)"
    if _unread_number(t, groups):
        confidence, how = 0.6, "day/time (with a number that was not understood)"
    return _Verdict(ReplyIntent.pick_slot, confidence, f"{how} matches only offered slot {i + 1} "
                    f"({_describe(slots[i])})" + (" by the hour only" if loose else ""), slot_index=i)


def _unread_number(t: _Text, groups: list[_When]) -> bool:
    """A bare number the day/time reading did not use ("2 kids", "martes 5" when 5 was not an hour)."""
    used_number = any(g.hour is not None or g.month_days or g.after is not None or g.before is not None
                      for g in groups)
    return not used_number and re.search(r"(?<![:/\d])\b\d{1,4}\b(?![:/])", t.words) is not None


def _merge(into: _When, w: _When) -> None:
    into.weekdays |= w.weekdays
    into.dates |= w.dates
    into.month_days |= w.month_days
    for name in ("hour", "minute", "meridiem", "part", "after", "before"):
        if getattr(w, name) is not None:
            setattr(into, name, getattr(w, name))
    into.pieces += w.pieces


# --------------------------------------------------------------------------- 5. the rest

_DECLINE_STRONG = [
    r"\b(dont|do not|dont really|no longer|not going to|not gonna|wont|will not|no need to|dont need to)\s+"
    r"(want to |need to |wanna |be )?(reschedul\w*|rebook\w*|book\w*|come (back|in)|make another|return)\b",
    r"\b(dont|do not|no longer)\s+need\s+(it|another|an?|the|a new)\s*(appointment|appt|visit|one)?\b",
    r"\bno\s+(quiero|necesito|deseo|voy a)\s+(reprogramar|reagendar|otra cita|la cita|cita|volver|ir)\b",
    r"\bya\s+no\s+(necesito|quiero|voy)\b",
    r"\b(found|went to|going to|chose|switched to)\s+(another|a different|someone else|somewhere else|elsewhere"
    r"|a new)\b|\bnot interested\b|\bwent elsewhere\b|\bgoing elsewhere\b|\bencontre\s+otr\w*|\bfui con otr\w*",
]
_RESCHEDULE = [
    r"\b(reschedul\w*|resched|rebook\w*|reschdule|reshedule|reprogram\w*|reagend\w*|re agendar)\b",
    r"\b(another|different|other|new|diff|alternative|alt)\s+(time|times|day|days|date|dates|appointment|appt"
    r"|slot|slots|week|option|options|one|opening|openings)\b",
    r"\b(next|following|other)\s+(week|month|wk)\b|\bweek after\b|\blater (this|next|in the) (week|month)\b",
    r"\bnone\b|\bneither\b|\bnot (these|those|any of)\b|\bcant (make|do) (any|either|those|these|them)\b",
    r"\b(something|anything|any time|anytime)\s+(else|later|earlier|sooner|other|on|in|next|after|before)\b",
    r"\b(do|have|got)\s+(you|u|yall)\s+(have|got)?\s*(anything|something|other|more times|any (other|more|times"
    r"|openings|slots|availability|appointments|time))\b|\b(any|other) (availability|openings)\b",
    r"\bwhat\s+(else|other|times|days|slots)\b|\bwhen\s+(else|are you|r u|is the next)\b",
    r"\b(change|move|push|switch)\s+(it|my|the|that|back|to)\b|\b(can|could)\s+(we|i|u|you)\s+(do|go|make it)\b",
    r"\bcant make (it|that|those)\b|\bcan not make (it|that)\b|\bwont work\b|\bdoesnt work\b|\bno good\b",
    r"^(later|earlier|sooner|maybe later|later pls|later please)$|\b(a|something|anything|any|bit|little|much)"
    r"\s+(later|earlier|sooner)\b|\b(later|earlier|sooner)\s+(time|date|day|slot|appointment|in the|this|next|that"
    r"|on|one)\b|\bnot (this|that) (week|time|day|month)\b",
    r"\b(book|schedule|make|set up|get)\s+(me\s+)?(a\s+|an\s+)?(new\s+)?(another\s+)?(appointment|appt|time)\b",
    r"\b(want|like|need|wanna)\s+to\s+(come|come in|come back|book|schedule)\b",
    r"\b(otro|otra)\s+(dia|hora|fecha|cita|vez|semana|horario|opcion|momento)\b|\bla\s+(proxima|otra|siguiente)"
    r"\s+semana\b|\bsemana que viene\b|\bmas\s+(tarde|temprano)\b|\bningun\w*\b|\bcambiar\b|\bnueva cita\b"
    r"|\b(tienen|tiene|hay)\s+(algo|otro|otra|mas|disponib\w*)\b|\bque\s+otr\w*\b|\bagendar\b",
]
_DECLINE = [
    r"^(no|nope|nah|naw|no no|nop)$",
    r"\bno\s+(thanks|thank you|thx|ty|gracias|thank u)\b|\bnot (now|right now|at this time|interested in)\b",
    r"\b(ill|i will|i ll)\s+pass\b|^pass$|\bnever ?mind\b|\bnvm\b|\bforget (it|about it)\b|\bno need\b",
    r"^(nah|naw|nope)\b|\b(im|i am)\s+(good|ok|okay|fine|all set)$",
    r"\bolvid\w*\b|\bno\s+me\s+interesa\b|\bno\s+(por ahora|ahorita)\b",
]
_QUESTION_START = re.compile(
    r"^(what|whats|when|where|wheres|why|how|hows|who|whos|which|is|are|do|does|did|can|could|will|would|should"
    r"|may|am|que|cuando|donde|como|cuanto|cuanta|cual|quien|por que|porque|puedo|hay|tienen|es|necesito)\b"
)


def _rest(t: _Text, inp: ReplyInput, count: int) -> _Verdict:
    for pattern in _DECLINE_STRONG:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.cancel, 0.85, "declines to rebook")
    for pattern in _RESCHEDULE:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.reschedule, 0.85, "asks for another time")
    if _has(_EITHER, t.words) and count:
        if count == 1:
            return _Verdict(ReplyIntent.pick_slot, 0.85, "any time suits and only one slot was offered",
                            slot_index=0)
        return _Verdict(ReplyIntent.pick_slot, 0.5, f"any of {count} offered slots suits: a human chooses")
    if _bare_affirmative(t) or _takes_the_offer(t):
        if count == 1:
            return _Verdict(ReplyIntent.pick_slot, 0.9, "yes to the only offered slot", slot_index=0)
        if count > 1:
            return _Verdict(ReplyIntent.pick_slot, 0.5, f"yes to {count} offered slots: unclear which")
        return _Verdict(ReplyIntent.reschedule, 0.8, "yes with no slots on offer: wants to rebook")
    for pattern in _DECLINE:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.cancel, 0.8, "declines")
    if t.emojis & _NEG_EMOJI and not t.core:
        return _Verdict(ReplyIntent.cancel, 0.7, "thumbs-down / cross emoji")
    if t.question or _QUESTION_START.search(t.words):
        return _Verdict(ReplyIntent.question, 0.85 if t.question else 0.75, "asks a question")
    if _has(r"\b(help|ayuda|info)\b", t.words):
        return _Verdict(ReplyIntent.help, 0.7, "mentions help inside a longer reply")
    if not t.core:
        reason = "greeting or thanks only" if t.tokens else "emoji or punctuation only" if t.raw.strip() \
            else "empty reply"
        return _Verdict(ReplyIntent.other, 0.3, reason)
    return _Verdict(ReplyIntent.other, 0.3, "not understood")


# "I'll take it", "book me in", "count me in", "la tomo": taking what was offered, said without a yes-word
_TAKE_IT = re.compile(
    r"\b(i ?ll|i will|i d|id|i would|let me|ill) (take|grab) (it|that|that one|this one)\b|^(take|grab) it\b"
    r"|\bbook (it|me|me in|that|that one|this one)\b|\b(count|sign|put) me (in|up|down)\b|\bi ?m in\b"
    r"|\breserve (it|that|that one)\b|\bi want (it|that one|that slot|that time)\b"
    r"|\b(la|lo) (tomo|quiero|reservo)\b|\bme apunto\b|\breservamela\b"
)
# besides a yes-word and politeness, all an acceptance may say ("yes, I'll take it, thanks!")
_TAKE_IT_WORDS = _wordset("i ill id will would let me take grab it that one this book in count sign put up down im "
                          "reserve want slot time la lo tomo quiero reservo apunto reservamela for please")


def _takes_the_offer(t: _Text) -> bool:
    if not t.tokens or not _TAKE_IT.search(t.words):
        return False
    return all(w in _AFFIRM or w in FILLER or w in _TAKE_IT_WORDS for w in t.tokens)


def _bare_affirmative(t: _Text) -> bool:
    if not t.tokens:
        return bool(t.emojis & _AFFIRM_EMOJI)
    return all(w in _AFFIRM or w in FILLER for w in t.tokens) and any(
        w in ("yes", "yeah", "yea", "yep", "yup", "ye", "yas", "y", "sure", "si", "claro", "dale", "va", "vale",
              "ok", "okay", "okey", "k", "kk", "perfect", "perfecto", "perfecta", "works", "confirm", "confirmed",
              "confirmo", "absolutely", "definitely", "fine", "great", "good", "sirve", "bien", "correct", "yess",
              "yesss", "yeahh", "cool", "awesome", "alright", "bueno", "acuerdo") for w in t.tokens)


# --------------------------------------------------------------------------- entry point


_CANCEL_WORD = re.compile(r"\b(cancel\w*|cancelar|cancela|cancelen|cancelo|anular|anula|anulen)\b")


def _cancel_appointment(t: _Text) -> _Verdict | None:
    """'Please cancel my appointment', 'cancela mi cita': the appointment, not consent."""
    if not _has(_APPOINTMENT, t.words):
        return None
    for i, word in enumerate(t.tokens):
        if _CANCEL_WORD.fullmatch(word) and not _benign(t.tokens, i):
            return _Verdict(ReplyIntent.cancel, 0.9, "asks to cancel the appointment (consent is not revoked)")
    return None


_QUESTION_ABOUT = re.compile(
    r"^(does|do|did|where|wheres|why|who|whos|how long|how much|hows|when does|when do|what time does|is the|are the"
    r"|is there|are there|is it|will the|should i|que|donde|cuanto|cuanta|por que"
    r"|a que hora (termina|empieza|cierra))\b")
_PROPOSAL = re.compile(r"\b(available|availability|open|opening|free|work|works|possible|any|have|get|come|book|take"
                       r"|do|make|disponible|libre|puedo|tienen|hay)\b")


def _question_about(t: _Text) -> _Verdict | None:
    """A question about the business or the visit ('does the session end before 5?') is not a time proposal."""
    if not t.question or len(t.clauses) > 1:
        return None
    first = t.clauses[0] if t.clauses else t.words
    if _QUESTION_ABOUT.search(first) and not _PROPOSAL.search(re.sub(r"^(does|do|did)\b", "", first)):
        return _Verdict(ReplyIntent.question, 0.85, "asks a question about the visit or the business")
    return None


# --------------------------------------------------------------------------- 3b. money

# Fees, deposits, charges and refunds (English and Spanish, accents stripped). The case never argues money: a
# program hands these to its payment link or to staff. Words that also mean something else ("pay" in "pay a
# visit", "charge" in "in charge of") count only in their money phrases.
_MONEY_NOUN = r"(fee|fees|deposit|deposits|refund\w*|(?<!in )charges?|charged|charging me|surcharge\w*|penalty" \
              r"|penalties|invoice\w*|bill|billed|billing|receipt|payment|payments|copay\w*|co pay\w*|reimburs\w*)"
_PAYMENT: list[str] = [
    rf"\b{_MONEY_NOUN}\b",
    r"\b(pay|paid|paying|pague|pagar|pagado|pagu\w+)\s+(\w+\s+){0,2}(for|it|this|that|online|now|back|por|lo"
    r"|en linea|ahora)\b",
    r"\b(how much|what does it cost|what is the cost|what will it cost|cost me|costs me|money back|my money)\b",
    r"\b(will|do|would|did) (you|they|i) (be )?(charge|bill)\w*\b",
    # Spanish
    r"\b(cargo|cargos|cobro|cobros|cobr(a|an|aron|ar|aran|ara|en|e|o)|multa\w*|deposito\w*|reembols\w*"
    r"|devolu\w+|tarifa\w*|factura\w*|recibo|pago|pagos|anticipo)\b",
    r"\b(cuanto (cuesta|cobran|es|vale|seria|me cobran)|mi dinero|el dinero)\b",
]


def _payment(t: _Text) -> _Verdict | None:
    for pattern in _PAYMENT:
        if _has(pattern, t.words):
            return _Verdict(ReplyIntent.payment, 0.9, "asks about a fee, deposit, charge or refund")
    return None


def understand(inp: ReplyInput) -> ReplyUnderstanding:
    t = _prepare(inp.text)
    revoked = _revocation(t)
    if revoked:
        return _finish(inp, revoked)
    cancel = _cancel_appointment(t)
    if cancel:
        return _finish(inp, cancel)
    embedded = _embedded(t)
    verdict = _understood(t, inp)
    if embedded:
        verdict.clarify = True
        verdict.reason += f"; opt-out word '{embedded}' inside other words: asked once whether to stop all texts"
    return _finish(inp, verdict)


def _understood(t: _Text, inp: ReplyInput) -> _Verdict:
    found = _opt_in(t, inp) or _help(t) or _statement(t) or (_payment(t) if inp.payments else None) \
        or _question_about(t)
    if found:
        return found
    zone = zone_of(inp.timezone)
    unknown_zone = zone is None
    zone = zone or UTC_ZONE
    slots = [to_local(s, zone) for s in inp.offered]
    now_local = to_local(inp.now, zone)
    strong_decline = any(_has(p, t.words) for p in _DECLINE_STRONG)
    choice = None if strong_decline else _slot_choice(t, inp, slots, now_local)
    if choice is not None:
        if unknown_zone:  # days and times were read in the wrong zone: a human checks
            choice.review = True
            choice.reason += f"; unknown time zone '{inp.timezone[:40]}', read as UTC"
        return choice
    return _rest(t, inp, len(slots))


# ---------------------------------------------------------------------------- shared with policies/slot_preference.py

When = _When
NEGATION = _NEGATION


def prepare(text: str) -> _Text:
    return _prepare(text)


def parse_when(clause: str, now_local: datetime) -> _When:
    return _parse_when(clause, now_local)


def fits_when(w: _When, local_slot: datetime) -> bool:
    """A slot (in the reader's zone) fits what was said; an hour without minutes fits any minute of it."""
    return _fits(w, local_slot, exact_minute=False)

