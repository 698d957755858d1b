"""The self-serve booking pages: one small, phone-first, accessible HTML page per outcome (choose, booked, taken
with alternatives, expired with a way to get new times, already booked, closed, not found). Local assets only:
the style is inline, nothing is fetched from anywhere else. Times are rendered by policies/times.py, as in the
messages."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from domain.case import CaseState
from policies.times import TimeStyle

_STYLE = (
    "*{box-sizing:border-box}body{font:1.05rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "padding:1rem;color:#1a1a1a;background:#fafafa}main{max-width:32rem;margin:0 auto}h1{font-size:1.45rem;"
    "margin:.5rem 0 1rem}ul{list-style:none;padding:0;margin:0}li{margin:.5rem 0}button{font:inherit;width:100%;"
    "min-height:3rem;padding:.75rem 1rem;border:2px solid #0b5cad;border-radius:.6rem;background:#fff;color:#0b5cad;"
    "text-align:left;cursor:pointer}button:hover,button:focus{background:#0b5cad;color:#fff;outline:3px solid #ffbf47}"
    ".note{color:#444}.done{border-left:6px solid #1b7f3b;padding-left:.8rem}.warn{border-left:6px solid #b35c00;"
    "padding-left:.8rem}@media (prefers-color-scheme:dark){body{background:#111;color:#eee}.note{color:#ccc}"
    "button{background:#111;color:#8cc4ff;border-color:#8cc4ff}}"
)

_WORDS = {
    "en": {
        "choose": "Pick a new time", "held": "These times are held for you {until}.",
        "booked": "You're booked", "booked_body": "Your new time is {when}. We'll send you a confirmation.",
        "booking": "Booking your time", "booking_body": "We're booking {when} and will text you to confirm.",
        "taken": "That time was just taken", "taken_body": "Sorry, someone booked it first. These times are open:",
        "expired": "This link has expired", "expired_body": "The times we held for you have been released. Reply "
        "NEW TIMES to our last message and we'll send you a fresh link.",
        "already": "You're already booked", "already_body": "Your appointment is {when}. Reply to our message if "
        "you need to change it.", "closed": "This offer is closed", "closed_body": "Reply to our last message or "
        "contact us and we'll help you find a time.", "missing": "Link not found", "missing_body": "This link is "
        "not valid. Please use the link in your latest message.", "label": "Book {when}",
    },
    "es": {
        "choose": "Elija una nueva hora", "held": "Le guardamos estas horas {until}.",
        "booked": "Cita reservada", "booked_body": "Su nueva hora es {when}. Le enviaremos una confirmación.",
        "booking": "Reservando su hora", "booking_body": "Estamos reservando {when} y le confirmaremos por mensaje.",
        "taken": "Esa hora ya no está libre", "taken_body": "Lo sentimos, alguien la reservó antes. Horas libres:",
        "expired": "Este enlace ha caducado", "expired_body": "Las horas que le guardamos se liberaron. Responda "
        "NUEVAS HORAS a nuestro último mensaje y le enviaremos un enlace nuevo.",
        "already": "Ya tiene cita", "already_body": "Su cita es {when}. Responda a nuestro mensaje si necesita "
        "cambiarla.", "closed": "Esta oferta está cerrada", "closed_body": "Responda a nuestro último mensaje o "
        "contáctenos y le ayudaremos a encontrar una hora.", "missing": "Enlace no encontrado", "missing_body":
        "Este enlace no es válido. Use el enlace de su último mensaje.", "label": "Reservar {when}",
    },
}


def _lang(locale: str | None) -> str:
    return "es" if (locale or "en").lower().startswith("es") else "en"


def style_for(state: CaseState | None, now: datetime | None = None) -> TimeStyle:
    zone = state.reader_timezone if state else None
    return TimeStyle.for_contact(zone, zone, state.reader_locale if state else "en", now=now or datetime.now(UTC))


def page(title: str, body: str, locale: str = "en") -> str:
    return (f"<!doctype html><html lang=\"{_lang(locale)}\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><main>"
            f"<h1>{html.escape(title)}</h1>{body}</main></body></html>")


def _slot_forms(state: CaseState, style: TimeStyle, words: dict[str, str]) -> str:
    rows = "".join(
        f'<li><form method="post"><input type="hidden" name="slot_index" value="{i}">'
        f'<button type="submit" aria-label="{html.escape(words["label"].format(when=style.when(s.start)))}">'
        f"{html.escape(style.when(s.start))}</button></form></li>"
        for i, s in enumerate(state.offered)
    )
    return f"<ul>{rows}</ul>"


def choose(state: CaseState, *, taken: bool = False) -> str:
    style = style_for(state)
    words = _WORDS[_lang(state.reader_locale)]
    held = ""
    if state.offer_expires_at is not None:
        held = f'<p class="note">{html.escape(words["held"].format(until=style.until(state.offer_expires_at)))}</p>'
    if taken:
        return page(words["taken"], f'<p class="warn">{html.escape(words["taken_body"])}</p>'
                    + _slot_forms(state, style, words) + held, state.reader_locale)
    return page(words["choose"], _slot_forms(state, style, words) + held, state.reader_locale)


def message(kind: str, state: CaseState | None = None, when: datetime | None = None) -> str:
    """booked | booking | expired | already | closed | missing."""
    locale = state.reader_locale if state else "en"
    words = _WORDS[_lang(locale)]
    text = words[f"{kind}_body"].format(when=style_for(state).when(when) if when else "")
    css = "done" if kind in ("booked", "already") else "warn" if kind in ("expired", "closed", "missing") else "note"
    return page(words[kind], f'<p class="{css}">{html.escape(text)}</p>', locale)
