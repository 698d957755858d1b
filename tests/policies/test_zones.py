"""Time zones from names: absent, malformed and unknown names resolve to None (never an exception), and the
fallback order is the contact's zone, then the program's default, then UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.models import Channel
from policies.schema import BusinessHours, SendRules
from policies.send_rules import SendCheckInput, check_send
from policies.zones import UTC_ZONE, is_zone_name, zone_of, zone_or

BAD_NAMES = [
    "", " ", "Nowhere/Land", "utc", "Europe/Paris ", "America/New_York/",  # unknown or not exactly a name
    "America", "Europe",  # directories of the zone database
    "../etc", "America/../UTC", "/etc/localtime", "../../../../etc/passwd",  # paths
    "zone.tab", "tzdata.zi", "iso3166.tab",  # files of the database that are not zones
    "localtime",  # whatever zone the host is set to
    "a\x00b", "\ud800", "x" * 300, "America/" + "A" * 80,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_resolve_to_none(name: str) -> None:
    assert zone_of(name) is None


def test_none_resolves_to_none() -> None:
    assert zone_of(None) is None


def test_a_name_that_is_not_a_string_resolves_to_none() -> None:
    assert zone_of(42) is None  # type: ignore[arg-type]  # payload values are untyped until checked


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Europe/Paris", "Etc/GMT+5", "EST5EDT", "US/Pacific",
                                  "America/Argentina/ComodRivadavia"])
def test_known_names_resolve_to_their_zone(name: str) -> None:
    zone = zone_of(name)
    assert zone is not None and zone.key == name
    assert zone == ZoneInfo(name)


def test_utc_is_utc() -> None:
    assert zone_of("UTC") is UTC_ZONE
    assert datetime(2026, 11, 23, 12, tzinfo=UTC).astimezone(UTC_ZONE).hour == 12


def test_an_iana_zone_gives_local_times() -> None:
    ny = zone_of("America/New_York")
    assert ny is not None
    assert datetime(2026, 11, 23, 15, tzinfo=UTC).astimezone(ny).hour == 10  # EST
    assert datetime(2026, 7, 1, 15, tzinfo=UTC).astimezone(ny).hour == 11  # EDT


def test_lookups_are_cached_failed_ones_too() -> None:
    assert zone_of("Europe/Berlin") is zone_of("Europe/Berlin")
    assert zone_of("Nowhere/Land") is None and zone_of("Nowhere/Land") is None


def test_fallback_order_contact_then_default_then_utc() -> None:
    assert zone_or("Europe/Paris", "America/Chicago").key == "Europe/Paris"
    assert zone_or(None, "America/Chicago").key == "America/Chicago"
    assert zone_or("", "America/Chicago").key == "America/Chicago"
    assert zone_or("Nowhere/Land", "America/Chicago").key == "America/Chicago"
    assert zone_or("Nowhere/Land", "Also/Nowhere") is UTC_ZONE
    assert zone_or(None, "") is UTC_ZONE
    assert zone_or("America", "../etc") is UTC_ZONE


def test_the_name_shape() -> None:
    assert is_zone_name("America/New_York") and is_zone_name("Etc/GMT-14") and is_zone_name("Nowhere/Land")
    assert not is_zone_name("America/../UTC") and not is_zone_name("") and not is_zone_name(None)
    assert not is_zone_name("localtime")


@given(st.text(max_size=80))
def test_any_text_resolves_without_raising(name: str) -> None:
    zone = zone_of(name)
    assert zone is None or zone.key == name
    assert isinstance(zone_or(name, name), ZoneInfo)


def test_policies_refuse_what_the_resolver_refuses() -> None:
    for name in ("America", "localtime", "../etc", "Nowhere/Land"):
        with pytest.raises(ValidationError):
            BusinessHours(timezone=name)
    assert BusinessHours(timezone="Europe/Paris").timezone == "Europe/Paris"


def test_a_directory_as_the_contact_zone_is_an_unknown_zone_not_an_error() -> None:
    decision = check_send(SendCheckInput(now=datetime(2026, 11, 23, 15, tzinfo=UTC), channel=Channel.email,
                                         rules=SendRules(email_respects_window=True), contact_timezone="America"))
    assert "contact time zone not recognised" in decision.reasons
