"""What a reply to a confirmation or reminder means while the appointment is still ahead: confirm, reschedule or
cancel the appointment, in English and Spanish. Anything else (and every opt-out word) is left to the general
reply rules (policies/replies.py), which answer STOP, HELP and the rest.

A bare "cancel" / "cancelar" is an opt-out keyword (carrier keyword lists and the FCC's 2024 revocation rule,
47 CFR 64.1200(a)(10)): it is never read as cancelling the appointment here. Only a cancellation that names the
appointment ("cancel my appointment", "cancela la cita", "I can't make it") is.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class WatchIntent(StrEnum):
    confirm = "confirm"
    reschedule = "reschedule"
    cancel = "cancel"


def _fold(text: str) -> str:
    """Lower case, accents off, punctuation to spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9']+", " ", plain).split())


_CONFIRM_WORDS = {
    "c", "confirm", "confirmed", "confirming", "i confirm", "yes confirm", "yes i confirm", "confirm please",
    "yes", "y", "yep", "yeah", "ok", "okay", "see you then", "i'll be there", "ill be there", "i will be there",
    "si", "confirmo", "confirmar", "confirmado", "confirmada", "si confirmo", "alli estare", "ahi estare",
    "nos vemos", "claro",
}
_RESCHEDULE_WORDS = {"r", "reschedule", "resched", "reprogramar", "reagendar", "cambiar", "change", "move"}
_RESCHEDULE = re.compile(
    r"\b(reschedul\w*|move (it|my|the)|another (time|day)|different (time|day)|change (the |my )?(time|day|date|"
    r"appointment)|push (it|my)|reprogram\w*|reagend\w*|cambiar (la |mi )?(cita|hora|fecha|dia)|otra (hora|fecha|"
    r"dia)|otro dia|mover (la |mi )?cita)\b"
)
_CANCEL = re.compile(
    r"\b(cancel\w* (my|the|this|our|that) (appointment|appt|booking|visit|consultation|cleaning|session|"
    r"reservation)|(need|have|want|going) to cancel|can'?t make it|cannot make it|won'?t make it|"
    r"can'?t come|cannot come|won'?t be (able to come|there|coming)|not (be )?coming|"
    r"cancel\w* (la|mi|esta) (cita|reserva|consulta|visita)|cancela(r)? la cita|anula\w* (la|mi) cita|"
    r"no (puedo|podre|voy a poder) (ir|asistir|llegar)|no voy a (ir|asistir))\b"
)
_NEGATED = re.compile(r"\b(not|don'?t|dont|no|never|cannot|can'?t)\b")


def watch_intent(text: str) -> WatchIntent | None:
    """The appointment intent of a reply sent while watching a booking, or None when the general rules decide."""
    folded = _fold(text)
    if not folded or len(folded) > 300:
        return None
    if _CANCEL.search(folded):
        return WatchIntent.cancel
    if folded in _RESCHEDULE_WORDS or _RESCHEDULE.search(folded):
        return WatchIntent.reschedule
    if folded in _CONFIRM_WORDS:
        return WatchIntent.confirm
    words = folded.split()
    if words and words[0] in {"c", "confirm", "confirmed", "confirmo", "confirmado", "confirmada"} \
            and not _NEGATED.search(folded):
        return WatchIntent.confirm
    return None
