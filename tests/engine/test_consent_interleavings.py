"""Interleavings of STOPs, STARTs, replies and sends over one household, on SQLite and on Postgres: nothing is
reserved for an address or a contact while it is opted out, and no contact or address gets more than the cap in
any rolling window, whether the operations come one after another or race from threads.

The engine's own code decides: STOP, START, HELP and replies go through the API's reply router (a real Temporal
server answers its questions about cases), sends through the send activity's reservation. The model they are
checked against is consent_world.Model; the store's rows are what is checked."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from temporalio.client import Client

from domain import addresses
from domain.models import Channel
from tests.engine.consent_world import (
    OTHER_REPLIES,
    START_WORDS,
    STOP_WORDS,
    Engine,
    Household,
    Model,
    over_cap,
    utc,
)
from tests.helpers import local_settings
from workers.dependencies import build_dependencies
from workers.dev.demo import daytime_contact

# the explain phase replays a failure many times more to say which operations matter: not worth its time here
BOUNDED = settings(max_examples=30, deadline=None, derandomize=True, database=None, report_multiple_bugs=False,
                   phases=[Phase.explicit, Phase.generate, Phase.shrink],
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Clock:
    """The send activity's clock: stepped by the sequence, so every operation has an instant of its own.

    `during_send` runs an operation at the activity's second look at the clock: the first is before its consent
    pre-check, the second while it renders the message, before it reserves the send. That is where a STOP lands
    when it arrives while a send is under way, the race the reservation's own consent check is there for."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.calls = 0
        self.pending: Callable[[], object] | None = None

    def __call__(self) -> datetime:
        self.calls += 1
        if self.pending is not None and self.calls == 2:
            run, self.pending = self.pending, None
            run()
        return self.now

    def during_send(self, run: Callable[[], object]) -> None:
        self.calls, self.pending = 0, run

    def step(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class World:
    engine: Engine
    clock: Clock
    cap: int
    span: timedelta
    window: tuple[int, int]  # the send window's opening and closing hour, recipient's local time

    def household(self) -> tuple[Household, str]:
        self.clock.now, self.clock.pending = datetime.now(UTC), None
        phone, zone = daytime_contact(self.clock.now)
        return Household(phone, zone, self.engine.deps.settings.auth.id_salt), zone

    def model(self) -> Model:
        return Model(cap=self.cap, span=self.span)


@pytest.fixture
def world(db_url: str, tmp_path: Path, client: Client) -> Iterator[World]:
    settings_ = local_settings(tmp_path / "data")
    settings_.storage.database_url = SecretStr(db_url)
    deps = build_dependencies(settings_)
    clock = Clock()
    engine = Engine(deps, client, clock)
    rules = engine.resolved.program.send
    assert len(rules.caps) == 1, "the model knows one rolling cap"
    window = (int(rules.window_start[:2]), int(rules.window_end[:2]))
    yield World(engine, clock, rules.caps[0].count, timedelta(hours=rules.caps[0].hours), window)


def subject_of(channel: Channel, sender: str) -> str:
    return addresses.subject(addresses.normalise(channel, sender))


def check_store(world: World, household: Household, model: Model, sent_ids: set[str]) -> None:
    """The invariants, read from the store: every reservation was made while its contact and its address were
    in, no subject is over the cap, and the store reserved exactly what the activity reported as sent."""
    contact_of = {household.contact_key(c): c for c in household.contacts}
    address_of = {household.address_key(a): a for case in household.cases for a in
                  (case.address(ch) for ch in case.channels()) if a}
    rows = world.engine.reservations(household)
    stamped: list[tuple[datetime, str]] = []
    for row in rows:
        at, contact, address = utc(row["created_at"]), contact_of[str(row["contact_key"])], \
            address_of[str(row["address_key"])]
        assert model.may_send(contact, address, at), f"{row['message_id']} reserved after an opt-out of " \
            f"{'the contact' if model.is_out(f'contact:{contact}', at) else 'its address'}"
        stamped += [(at, f"contact:{contact}"), (at, f"addr:{address}")]
    assert over_cap(stamped, world.cap, world.span) == []
    assert {str(r["message_id"]) for r in rows} == sent_ids


def stop_from_the_send(engine: Engine, channel: Channel, sender: str, word: str,
                       loop: asyncio.AbstractEventLoop) -> None:
    outcome = asyncio.run_coroutine_threadsafe(engine.reply(channel, sender, word), loop).result(timeout=60)
    assert outcome.opted_out


OPEN = st.tuples(st.just("open"), st.integers(0, 3))
SEND = st.tuples(st.just("send"), st.integers(0, 3), st.sampled_from([Channel.sms, Channel.email]))
STOP = st.tuples(st.just("stop"), st.integers(0, 4), st.sampled_from(STOP_WORDS))
START = st.tuples(st.just("start"), st.integers(0, 4), st.sampled_from(START_WORDS))
REPLY = st.tuples(st.just("reply"), st.integers(0, 4), st.sampled_from(OTHER_REPLIES))
LATER = st.tuples(st.just("later"), st.sampled_from([600, 86_400]))
STOP_MID_SEND = st.tuples(st.just("stop_mid_send"), st.integers(0, 3), st.sampled_from([Channel.sms, Channel.email]),
                          st.integers(0, 4), st.sampled_from(STOP_WORDS))
BY_KIND = {"send": SEND, "open": OPEN, "stop": STOP, "start": START, "reply": REPLY, "later": LATER,
           "stop_mid_send": STOP_MID_SEND}


def operations(weights: dict[str, int], min_size: int, max_size: int) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """Lists of operations, each kind drawn as often as its weight says."""
    kinds = [kind for kind, weight in weights.items() for _ in range(weight)]
    return st.lists(st.sampled_from(kinds).flatmap(BY_KIND.__getitem__), min_size=min_size, max_size=max_size)


# sends weighted up so that most sequences reach the cap between one STOP or START and the next
SEQUENCE = operations({"send": 8, "open": 1, "stop": 1, "start": 1, "reply": 1, "later": 1, "stop_mid_send": 1},
                      8, 30)


@BOUNDED
@given(ops=SEQUENCE)
async def test_sequential_interleavings_never_send_after_a_stop_nor_over_the_cap(
        world: World, ops: list[tuple[Any, ...]]) -> None:
    household, zone = world.household()
    model, engine, sent_ids = world.model(), world.engine, set[str]()
    loop = asyncio.get_running_loop()
    opened: set[int] = set()
    for n, op in enumerate(ops):
        at = world.clock.step(1)
        kind = op[0]
        if kind in ("open", "send", "stop_mid_send") and op[1] not in opened:
            # a case knows its addresses before it writes
            case = household.cases[op[1]]
            engine.open_case(case)
            model.open(case.contact, [a for a in (case.address(c) for c in case.channels()) if a])
            opened.add(op[1])
        if kind in ("send", "stop_mid_send"):
            case = household.cases[op[1]]
            channel = op[2] if op[2] in case.channels() else Channel.sms
            address = str(case.address(channel))
            request = engine.request(case, channel, f"s{n}")
            if kind == "stop_mid_send":
                stop_channel, sender = household.senders[op[3]]
                model.stop(subject_of(stop_channel, sender), at)  # recorded before the send reserves
                world.clock.during_send(partial(stop_from_the_send, engine, stop_channel, sender, op[4], loop))
            may, room = model.may_send(case.contact, address, at), model.related(case.contact, address, at) < world.cap
            result = await asyncio.to_thread(engine.messaging.send_message, request)
            late, world.clock.pending = world.clock.pending, None
            if late is not None:  # the pre-check refused it before rendering: the STOP comes after it
                assert result.status == "blocked", result
                await asyncio.to_thread(late)
            event(f"send {result.status}")
            if not may:
                assert result.status == "blocked", result
                continue
            assert result.status in ("sent", "deferred"), result
            local_hour = at.astimezone(ZoneInfo(zone)).hour
            in_window = channel == Channel.email or world.window[0] <= local_hour < world.window[1]
            if room and in_window and engine.answers(household) == 0:
                assert result.status == "sent", result  # nothing but consent or the cap may hold it back
            if result.status == "deferred":
                assert "frequency cap" in result.reason or not in_window, result
            else:
                if model.out.get(f"addr:{address}") or model.out.get(f"contact:{case.contact}"):
                    event("sent again after a START")
                model.sent.append((at, case.contact, address))
                sent_ids.add(f"{case.case_id}-s{n}")
        elif kind in ("stop", "start", "reply"):
            channel, sender = household.senders[op[1]]
            outcome = await engine.reply(channel, sender, op[2])
            assert outcome.opted_out == (kind == "stop")
            if kind == "stop":
                model.stop(subject_of(channel, sender), at)
            elif kind == "start":
                model.start(subject_of(channel, sender), at)
        elif kind == "later":
            world.clock.step(op[1])
        check_store(world, household, model, sent_ids)


@dataclass
class Done:
    op: tuple[Any, ...]
    began: float
    ended: float
    status: str = ""
    reason: str = ""


CONCURRENT = operations({"send": 8, "stop": 1, "reply": 1}, 4, 14)


@BOUNDED
@given(ops=CONCURRENT, threads=st.integers(2, 8))
async def test_racing_threads_hold_the_cap_exactly_and_honour_a_finished_stop(
        world: World, ops: list[tuple[Any, ...]], threads: int) -> None:
    household, _ = world.household()
    model, engine = world.model(), world.engine
    for case in household.cases:  # every case has started; what races is what they and the customer do
        engine.open_case(case)
        model.open(case.contact, [a for a in (case.address(c) for c in case.channels()) if a])
    loop = asyncio.get_running_loop()
    parties = min(threads, len(ops))
    gate = threading.Barrier(parties)

    def run(n: int) -> Done:
        op = ops[n]
        if n < parties:
            gate.wait(timeout=30)
        done = Done(op, time.monotonic(), 0.0)
        if op[0] == "send":
            case = household.cases[op[1]]
            channel = op[2] if op[2] in case.channels() else Channel.sms
            result = engine.send(case, channel, f"s{n}")
            done.status, done.reason = result.status, result.reason
        else:
            channel, sender = household.senders[op[1]]
            asyncio.run_coroutine_threadsafe(engine.reply(channel, sender, op[2]), loop).result(timeout=60)
        done.ended = time.monotonic()
        return done

    def race() -> list[Done]:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(run, range(len(ops))))

    finished = await asyncio.to_thread(race)
    for done in finished:
        event(f"raced {done.op[0]} {done.status}".rstrip())
    stops = [(d, subject_of(*household.senders[d.op[1]])) for d in finished if d.op[0] == "stop"]

    def covers(address: str, contact: str, stop_address: str) -> bool:
        return stop_address == address or contact in model.contacts_of.get(stop_address, set())

    rows = {str(r["message_id"]): r for r in engine.reservations(household)}
    answered = engine.answers(household)
    for n, done in enumerate(finished):
        if done.op[0] != "send":
            continue
        case = household.cases[done.op[1]]
        channel = done.op[2] if done.op[2] in case.channels() else Channel.sms
        address = str(case.address(channel))
        assert done.status in ("sent", "deferred", "blocked"), done
        assert (f"{case.case_id}-s{n}" in rows) == (done.status == "sent"), done
        if done.status == "sent":
            late = [s for s, a in stops if covers(address, case.contact, a) and s.ended < done.began]
            assert not late, f"sent after an opt-out that had finished: {done}"
            model.sent.append((world.clock.now, case.contact, address))
        elif done.status == "blocked":
            assert any(covers(address, case.contact, a) and s.began < done.ended for s, a in stops), done
        else:
            assert "frequency cap" in done.reason, done
    check_store(world, household, model, set(rows))
    if answered == 0:  # no consent answer counts against anyone: every deferral is a full cap
        for done in finished:
            if done.status == "deferred":
                case = household.cases[done.op[1]]
                channel = done.op[2] if done.op[2] in case.channels() else Channel.sms
                assert model.related(case.contact, str(case.address(channel)), world.clock.now) >= world.cap, done
