"""Customer-facing times, rendered one way everywhere: messages (`{slot_list}`, confirmations), the booking page
and the linter's previews.

A time is shown in the customer's zone (the location's when the customer's is unknown), with a zone label when
that zone's offset differs from the business's at that instant, in the contact's locale (Babel's CLDR data;
English and Spanish are shipped), with "today" / "tomorrow" where they help: "tomorrow, Tue Dec 1, 9:00 AM".

Pure: the clock (`now`) is an argument; nothing is read from the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_timezone_name

from policies.zones import UTC_ZONE, zone_of

SHIPPED_LOCALES = ("en", "es")
# how each shipped language writes a day and a time (CLDR patterns; Babel localises the names)
_DAY_PATTERN = {"en": "EEE MMM d", "es": "EEE d 'de' MMM"}
_TIME_PATTERN = {"en": "h:mm a", "es": "H:mm"}
_RELATIVE = {"en": {-1: "yesterday", 0: "today", 1: "tomorrow"}, "es": {-1: "ayer", 0: "hoy", 1: "mañana"}}
_LINK_WORDS = {"en": "until", "es": "hasta"}


def _language(locale: str | None) -> str:
    base = (locale or "en").replace("-", "_").split("_")[0].lower()
    return base if base in SHIPPED_LOCALES else "en"


def _babel_locale(locale: str | None) -> Locale:
    try:
        return Locale.parse((locale or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en_US")


@dataclass(frozen=True)
class TimeStyle:
    """Who reads the time, and where: the reader's zone and locale, the business's zone, and the clock."""

    zone: tzinfo
    locale: str = "en"
    business_zone: tzinfo | None = None
    now: datetime | None = None

    @classmethod
    def for_contact(cls, contact_zone: str | None, location_zone: str | None, locale: str | None,
                    business_zone: str | None = None, now: datetime | None = None) -> TimeStyle:
        zone = zone_of(contact_zone or "") or zone_of(location_zone or "") or UTC_ZONE
        business = zone_of(business_zone or "") or zone_of(location_zone or "")
        return cls(zone=zone, locale=locale or "en", business_zone=business, now=now)

    # ------------------------------------------------------------------ pieces

    def local(self, at: datetime) -> datetime:
        # a naive time is already a wall-clock time in the reader's zone
        return at.replace(tzinfo=self.zone) if at.tzinfo is None else at.astimezone(self.zone)

    def day(self, at: datetime, relative: bool = True) -> str:
        lang = _language(self.locale)
        local = self.local(at)
        text = _clean(format_date(local, _DAY_PATTERN[lang], locale=_babel_locale(self.locale)))
        if relative and self.now is not None:
            offset = (local.date() - self.local(self.now).date()).days
            word = _RELATIVE[lang].get(offset)
            if word:
                return f"{word}, {text}"
        return text

    def time(self, at: datetime) -> str:
        lang = _language(self.locale)
        local = self.local(at)
        text = _clean(format_time(local, _TIME_PATTERN[lang], locale=_babel_locale(self.locale)))
        label = self.zone_label(at)
        return f"{text} {label}" if label else text

    def zone_label(self, at: datetime) -> str:
        """A label only when the reader's clock differs from the business's at that instant."""
        if self.business_zone is None:
            return ""
        mine = self.local(at).utcoffset()
        theirs = (at if at.tzinfo else at.replace(tzinfo=self.zone)).astimezone(self.business_zone).utcoffset()
        if mine == theirs:
            return ""
        local = self.local(at)
        locale = _babel_locale(self.locale)
        # CLDR has no Spanish abbreviations for most zones; "CST", "EST" are what US readers of either language see
        for names in (locale, _babel_locale("en_US")):
            short = get_timezone_name(local, "short", locale=names)
            if re.fullmatch(r"[A-Z]{2,5}", short):
                return short
        return f"({get_timezone_name(local, 'long', locale=locale)})"

    # ------------------------------------------------------------------ whole phrases

    def when(self, at: datetime, relative: bool = True) -> str:
        """'tomorrow, Tue Dec 1, 9:00 AM' / 'mañana, mar 1 de dic, 9:00'."""
        return f"{self.day(at, relative)}, {self.time(at)}"

    def slot_list(self, starts: list[datetime]) -> str:
        return "\n".join(f"{i + 1}) {self.when(s)}" for i, s in enumerate(starts))

    def until(self, at: datetime) -> str:
        """An expiry as a customer reads it: 'until 3:40 PM today'."""
        lang = _language(self.locale)
        return f"{_LINK_WORDS[lang]} {self.when(at)}"


def _clean(text: str) -> str:
    # CLDR abbreviations carry dots in Spanish ("mar.", "dic."): SMS reads better without them
    return re.sub(r"(?<=\w)\.(?=\s|$|,)", "", text).replace("\u202f", " ").replace("\u00a0", " ")


ISO_LINE = re.compile(r"^\s*(\d{1,2})\)\s*(\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2}))\s*$")


def parse_instant(value: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def readable(value: str, style: TimeStyle, until: bool = False) -> str:
    """A variable the workflow passed as ISO instants (one, or a numbered list of them) as the reader reads it;
    any other text is returned unchanged."""
    at = parse_instant(value)
    if at is not None:
        return style.until(at) if until else style.when(at)
    lines = value.splitlines()
    if lines and all(ISO_LINE.match(line) for line in lines):
        starts = [parse_instant(ISO_LINE.match(line).group(2)) for line in lines]  # type: ignore[union-attr]
        return style.slot_list([s for s in starts if s is not None])
    return value
