"""Test helpers: polling instead of sleeping, and builders for appointments, events and policies."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import phonenumbers

from domain.models import Appointment, AppointmentEvent, Contact, EventType
from policies.loader import load_policy
from policies.schema import PolicyFile, Program, ResolvedProgram, WatchRules
from workers.dev.demo import daytime_contact
from workers.settings import (
    ApiSettings,
    LoggingSettings,
    PolicySettings,
    Settings,
    StorageSettings,
    TemporalSettings,
)

T = TypeVar("T")


async def eventually(fn: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 20.0,
                     interval: float = 0.1) -> T:
    """Poll `fn` until `check` holds; fail with the last value seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = await fn()
    while not check(value):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(interval)
        value = await fn()
    return value


def unique_task_queue() -> str:
    """A task queue no other test uses: a worker on it sees only the workflows its own test starts."""
    return f"tq-{uuid.uuid4().hex[:12]}"


def default_program(policy: PolicyFile) -> Program:
    return next(p for p in policy.programs if p.name == "default")


def fast_policy(**program_overrides: object) -> PolicyFile:
    """The shipped default with test-speed timers (send windows stay as the law requires)."""
    policy = load_policy()
    program = default_program(policy)
    program.attendance.grace_minutes = 0
    for seq in program.sequences.values():
        seq.reply_wait_hours = 2 / 3600  # two seconds
        for i, step in enumerate(seq.steps):
            step.delay_minutes = 0 if i == 0 else 60
    program.review.sla_minutes = 10
    program.review.reminder_minutes = []
    program.rebooking.lead_time_hours = 0
    program.rebooking.business_hours.days = [0, 1, 2, 3, 4, 5, 6]
    program.rebooking.business_hours.open, program.rebooking.business_hours.close = "00:00", "23:30"
    program.rebooking.hold_minutes = 60
    program.watch = WatchRules()  # no confirmation or reminders unless a test asks for them
    for key, value in program_overrides.items():
        setattr(program, key, value)
    return policy


def resolved_of(policy: PolicyFile) -> ResolvedProgram:
    return ResolvedProgram(policy_version=policy.version, program=default_program(policy), templates=policy.templates,
                           help_text=policy.help_text, opt_out_confirmation=policy.opt_out_confirmation)


def appointment(
    appointment_id: str | None = None, *, source: str = "local", appointment_type: str = "consultation",
    value: float = 120.0, start: datetime | None = None, minutes: int = 30, contact_id: str | None = None,
    phone: str | None = None, email: str | None = "pat@example.com", timezone: str | None = None,
    categories: list[str] | None = None, calendar_id: str = "cal-1",
) -> Appointment:
    start = start or (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    if phone is None and timezone is None:
        phone, timezone = daytime_contact()
        phone = distinct_phone(phone)
    if email == "pat@example.com":  # the default: one inbox per made-up contact, as for phones
        email = f"pat+{uuid.uuid4().hex[:8]}@example.com"
    return Appointment(
        source=source, appointment_id=appointment_id or f"appt-{uuid.uuid4().hex[:10]}",
        appointment_type=appointment_type, calendar_id=calendar_id, owner_id="owner-1", location_id="loc-1",
        start=start, end=start + timedelta(minutes=minutes), value=value,
        contact=Contact(contact_id=contact_id or f"c-{uuid.uuid4().hex[:10]}", name="Pat Example", phone=phone,
                        email=email, timezone=timezone),
        categories=categories or [],
    )


_PHONES_GIVEN: set[str] = set()


def distinct_phone(base: str) -> str:
    """Another valid number of `base`'s area (last digits changed), never one given before in this run:
    consent and caps count per address, so contacts made up for a test must not share a phone unless the
    test says so (a random pick alone collides often enough to fail a test with twenty contacts)."""
    for _ in range(10_000):
        candidate = base[:-4] + f"{int(uuid.uuid4().hex[:6], 16) % 10000:04d}"
        fresh = candidate != base and candidate not in _PHONES_GIVEN
        if fresh and phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            _PHONES_GIVEN.add(candidate)
            return candidate
    raise ValueError(f"no valid numbers left around {base!r}: pick a base in a real area")


def event(appt: Appointment, type_: EventType = EventType.no_show, event_id: str | None = None,
          at: datetime | None = None, **extra: object) -> AppointmentEvent:
    return AppointmentEvent(event_id=event_id or f"evt-{uuid.uuid4().hex[:12]}", type=type_,
                            occurred_at=at or datetime.now(UTC), appointment=appt, **extra)  # type: ignore[arg-type]


def local_settings(data_dir: Path, *, task_queue: str | None = None, policy_file: Path | None = None,
                   temporal_address: str | None = None, **sections: Any) -> Settings:
    """Settings for a test: the embedded default under `data_dir`, with the sections the test changes."""
    temporal = TemporalSettings(address=temporal_address, **({"task_queue": task_queue} if task_queue else {}))
    # a test reads a webhook's effects from its answer: wait for them however loaded the machine is
    sections.setdefault("api", ApiSettings(ack_seconds=30))
    return Settings(storage=StorageSettings(data_dir=data_dir), policy=PolicySettings(file=policy_file),
                    temporal=temporal, logging=LoggingSettings(format="console"), **sections)


def settings_from(env: dict[str, str], base: Settings | None = None) -> Settings:
    """Settings as a deployment with these variables set would read them (names without the NOSHOW_ prefix,
    in any case: `calcom_api_key` is NOSHOW_CALCOM_API_KEY). `base` keeps its storage, policy and Temporal."""
    variables = {k if k.isupper() else f"NOSHOW_{k.upper()}": v for k, v in env.items()}
    with mock.patch.dict(os.environ, variables):
        read = Settings()
    if base is None:
        return read
    return read.model_copy(update={"storage": base.storage, "policy": base.policy, "temporal": base.temporal,
                                   "logging": base.logging})
