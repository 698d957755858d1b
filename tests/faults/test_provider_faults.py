"""Provider faults and worker crashes on real cases: no lost case, no duplicate customer message.

Real cases run on the session dev server with the real Twilio and SendGrid connectors pointed at local fakes
that fail on purpose: 500s, 429 with Retry-After, hangs past the client timeout, a reset after the message was
accepted, permanent 4xx (21211), a carrier opt-out (21610), a STOP during an outage, and worker restarts while
a send is in flight. Duplicates are counted from what the fakes accepted, per logical message (case id + step).
The last test prints the module's report: lost cases, duplicate customer messages, sends after opt-out, all 0.
A customer no approved channel can reach is not a lost case: it waits for a human (awaiting_review).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.case import CaseState
from domain.ids import contact_key_for
from domain.models import Channel, Reply, Stage
from tests.faults.harness import FaultStack, Tally
from tests.helpers import eventually
from workflows.case import RecoveryCaseWorkflow

# real retry timers, timeouts and worker restarts: seconds per scenario
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def start_cases(faults: FaultStack, n: int) -> list[str]:
    return [await faults.start(faults.contact()) for _ in range(n)]


def account(tally: Tally, faults: FaultStack, name: str, finals: dict[str, CaseState | None],
            known_bug: str | None = None, all_due: bool = True) -> None:
    """Add a scenario's figures to the module report. A scenario that shows a reported bug (xfail) is kept apart
    so the report still says what the rest proves; its figures are printed under "known bugs". `all_due`: every
    step of every case was owed to the customer (not so once they opted out)."""
    lost = sum(1 for state in finals.values() if state is None) + (len(faults.missing(finals)) if all_due else 0)
    if known_bug:
        tally.known_bugs[f"{name}: {known_bug}"] = faults.duplicates() + lost
        return
    tally.scenarios.append(name)
    tally.cases += len(finals)
    tally.messages += len(faults.accepted())
    tally.duplicates += faults.duplicates()
    tally.lost_cases += lost


async def until(check: object, timeout: float = 20) -> None:
    await eventually(lambda: asyncio.sleep(0, check()), bool, timeout=timeout)  # type: ignore[operator]


def assert_all_sent_once(faults: FaultStack, finals: dict[str, CaseState | None]) -> None:
    assert all(state is not None for state in finals.values()), "a case did not complete"
    assert faults.missing(finals) == [], "a logical message never reached the customer"
    assert faults.duplicates() == 0, faults.accepted()


# ---------------------------------------------------------------- transient failures


async def test_provider_500s_for_the_first_calls(faults: FaultStack, tally: Tally) -> None:
    faults.twilio.server_error_next(times=5)
    faults.sendgrid.server_error_next(times=3)
    ids = await start_cases(faults, 4)
    finals = await faults.finish(ids)
    account(tally, faults, "500 x N", finals)
    assert_all_sent_once(faults, finals)
    # the failures really were served and retried: more create calls than messages
    assert len(faults.twilio.posts()) > len(faults.twilio.accepted())
    assert len(faults.sendgrid.posts()) > len(faults.sendgrid.accepted())


async def test_429_with_retry_after_is_honoured(faults: FaultStack, tally: Tally) -> None:
    # Retry-After 3 s against the workflow's 1 s initial retry interval: the gap tells which one was used
    faults.twilio.rate_limit_next("3", times=1)
    faults.sendgrid.rate_limit_next("3", times=1)
    ids = await start_cases(faults, 3)
    finals = await faults.finish(ids)
    account(tally, faults, "429 Retry-After", finals)
    assert_all_sent_once(faults, finals)
    for provider in (faults.twilio, faults.sendgrid):
        posts = provider.posts()
        limited_at, message_id = posts[0]  # the first create call got the 429
        retries = [at for at, mid in posts[1:] if mid == message_id]
        assert retries, f"{message_id} was never retried"
        assert retries[0] - limited_at >= 2.7, f"retried after {retries[0] - limited_at:.2f}s, not Retry-After 3s"


async def test_provider_hangs_past_the_client_timeout(faults: FaultStack, tally: Tally) -> None:
    faults.twilio.hang_next(times=2)  # never processed: the retry must still send
    faults.twilio.accept_then_hang_next()  # processed, answer lost: the retry must find it, not resend
    ids = await start_cases(faults, 3)
    finals = await faults.finish(ids)
    account(tally, faults, "hang (Twilio)", finals)
    assert_all_sent_once(faults, finals)
    lookups = faults.twilio.calls("GET", "/Messages.json")
    assert lookups, "no lookup-before-resend after an ambiguous timeout"


async def test_twilio_reset_after_accepting(faults: FaultStack, tally: Tally) -> None:
    faults.twilio.accept_then_reset_next()
    faults.twilio.accept_then_reset_next()
    ids = await start_cases(faults, 3)
    finals = await faults.finish(ids)
    account(tally, faults, "reset after accept (Twilio)", finals)
    assert_all_sent_once(faults, finals)
    assert len(faults.twilio.posts()) == len(faults.twilio.accepted()), "a reset message was sent again"


async def test_sendgrid_reset_after_accepting(faults: FaultStack, tally: Tally) -> None:
    """SendGrid has no lookup: after a reset the connector refuses to resend (code ambiguous_send). That must not
    turn into the same message by SMS: the email is already in the customer's inbox."""
    faults.sendgrid.accept_then_reset_next()  # the first email (a missed_last, email first) is accepted, answer lost
    ids = await start_cases(faults, 2)
    finals = await faults.finish(ids)
    account(tally, faults, "reset after accept (SendGrid)", finals)
    assert all(state is not None for state in finals.values())
    assert faults.duplicates() == 0, faults.accepted()
    # the possibly delivered email counts as sent: nothing of that step went out by SMS
    notes = [e.what for state in finals.values() if state for e in state.timeline]
    assert any("possibly delivered" in n for n in notes), notes


# ---------------------------------------------------------------- permanent failures


async def test_invalid_number_falls_back_to_email_or_goes_to_review(faults: FaultStack, tally: Tally) -> None:
    with_email = faults.contact()
    phone_only = faults.contact(email=None)
    for appt in (with_email, phone_only):
        assert appt.contact.phone
        faults.twilio.invalid.add(appt.contact.phone)
    started = time.monotonic()
    a, b = await faults.start(with_email), await faults.start(phone_only)
    finals = await faults.finish([a], timeout=30)
    # no email: no approved channel of the step can reach this customer; a human decides, after one refused try
    handle = faults.client.get_workflow_handle_for(RecoveryCaseWorkflow.run, b)  # type: ignore[arg-type]
    waiting = await eventually(lambda: handle.query(RecoveryCaseWorkflow.state_query),
                               lambda s: s.stage == Stage.awaiting_review, timeout=30)
    elapsed = time.monotonic() - started
    assert all(state is not None for state in finals.values())
    # every logical message reached the customer by email; SMS tried once per message, never retried
    state_a = finals[a]
    assert state_a is not None
    steps_a = {f"{a}-{step}" for step in faults.steps(state_a)}
    assert {mid for mid, _ in faults.sendgrid.accepted()} == steps_a
    sms_a = [mid for _, mid in faults.twilio.posts(with_email.contact.phone)]
    assert len(sms_a) == len(set(sms_a)) and set(sms_a) <= steps_a, sms_a  # at most one try per message
    assert waiting.review is not None
    assert any("could not send" in r and "21211" in r for r in waiting.review.reasons), waiting.review.reasons
    sms_b = [mid for _, mid in faults.twilio.posts(phone_only.contact.phone)]
    assert sms_b == [f"{b}-step0"], sms_b  # one refused try, nothing after it while the human decides
    assert not any(mid.startswith(b) for mid in faults.accepted())
    account(tally, faults, "21211 invalid number", finals)
    assert elapsed < 20, f"permanent failures took {elapsed:.1f}s to settle"
    assert faults.duplicates() == 0


async def test_carrier_opt_out_21610_blocks_every_later_sms(faults: FaultStack, tally: Tally) -> None:
    first = faults.contact()
    phone = first.contact.phone
    assert phone
    faults.twilio.opted_out.add(phone)
    a = await faults.start(first)
    finals = await faults.finish([a])
    b = await faults.start(faults.again(first))  # a later case of the same contact
    finals |= await faults.finish([b])
    account(tally, faults, "21610 carrier opt-out", finals)
    assert all(state is not None for state in finals.values())
    attempts = faults.twilio.posts(phone)
    # one refused attempt, then the consent ledger keeps SMS away from this contact in every case
    tally.sends_after_opt_out += max(0, len(attempts) - 1)
    assert len(attempts) == 1, attempts
    key = contact_key_for(first.contact.contact_id, faults.deps.settings.auth.id_salt)
    assert faults.deps.consent.is_blocked(key, Channel.sms.value)
    assert faults.missing(finals) == [], "email should have carried every message"
    assert faults.duplicates() == 0


async def stop_during_outage(faults: FaultStack) -> tuple[dict[str, CaseState | None], list[str], list[str]]:
    """Two cases of one contact; Twilio fails every call after two texts; STOP arrives while the sends retry.
    Returns the final states, the messages accepted after the STOP, and the opt-out confirmations among them."""
    first = faults.contact()
    phone = first.contact.phone
    assert phone
    faults.twilio.outage_after = 2  # two texts go out, then Twilio fails every call
    faults.sendgrid.in_outage = True
    a = await faults.start(first)
    b = await faults.start(faults.again(first))
    # retries are failing (their backoff grows: a loaded machine needs longer than the default wait)
    await until(lambda: faults.twilio.in_outage and len(faults.twilio.posts(phone)) >= 4, timeout=60)
    before = set(faults.accepted())
    stop = Reply(reply_id=f"r-{uuid.uuid4().hex[:10]}", channel=Channel.sms, text="STOP",
                 received_at=datetime.now(UTC))
    outcome = await faults.cases.submit_reply(stop, sender=phone)
    assert outcome.opted_out and outcome.case_id in (a, b)
    # the outage goes on: retries of the sends in flight must now stop at the pre-send consent check
    during = await faults.finish([a, b], timeout=15)
    assert all(state is not None for state in during.values()), "the STOP waited for the provider to recover"
    faults.twilio.heal()
    faults.sendgrid.heal()
    finals = await faults.finish([a, b])
    # the confirmation waited for the provider in a workflow of its own (ConfirmOptOut): give it its next retry,
    # then count everything that went out after the STOP (a send that wrongly resumed would show up too)
    with contextlib.suppress(AssertionError):
        await until(lambda: any(mid.startswith("consent-") for mid in faults.accepted()), timeout=30)
    after = [mid for mid in faults.accepted() if mid not in before]
    return finals, after, [mid for mid in after if mid.startswith("consent-")]


async def test_stop_during_an_outage_suppresses_every_later_send(faults: FaultStack, tally: Tally) -> None:
    finals, after, confirmations = await stop_during_outage(faults)
    account(tally, faults, "STOP during outage", finals, all_due=False)
    assert all(state is not None and state.stage == Stage.opted_out for state in finals.values()), finals
    later_sends = [mid for mid in after if mid not in confirmations]
    tally.sends_after_opt_out += len(later_sends)
    tally.stops += 1
    tally.stop_confirmations += len(confirmations)
    assert later_sends == []
    assert len(confirmations) <= 1
    assert faults.duplicates() == 0


async def test_stop_during_an_outage_is_confirmed_once(faults: FaultStack) -> None:
    finals, _, confirmations = await stop_during_outage(faults)
    assert all(state is not None and state.stage == Stage.opted_out for state in finals.values())
    assert len(confirmations) == 1


# ---------------------------------------------------------------- worker restarts mid-send


@pytest.mark.parametrize("provider", ["twilio", "sendgrid"])
async def test_worker_restarts_while_sends_are_in_flight(faults: FaultStack, tally: Tally, provider: str) -> None:
    """Shutdown with a short grace period while a create call waits on a slow answer after the provider accepted
    it: the SDK cancels the send thread, the retry runs on a new worker (new connectors, same send log file)."""
    fake = faults.twilio if provider == "twilio" else faults.sendgrid
    await faults.stop_worker()
    fake.slow_accept_seconds = 1.5  # accepted, then a slow answer: the restart lands in between
    faults.start_worker(graceful=timedelta(seconds=0.2), timeout=5.0)
    ids: list[str] = []
    for _ in range(2):
        # two cases per restart: SendGrid never re-posts an email it may have taken (no lookup), so a restart
        # needs fresh sends to land on; four cases at once may all have posted before the first restart ends
        seen = len(fake.posts())
        ids += await start_cases(faults, 2)
        await until(lambda s=seen: len(fake.posts()) > s)  # a create call is in flight now
        await faults.stop_worker()
        faults.start_worker(graceful=timedelta(seconds=0.2), timeout=5.0)
    fake.slow_accept_seconds = 0
    finals = await faults.finish(ids, timeout=60)
    account(tally, faults, f"worker restart mid-send ({provider})", finals)
    assert_all_sent_once(faults, finals)


# ---------------------------------------------------------------- the module's report


def test_fault_report(tally: Tally) -> None:
    """Runs last: lost cases, duplicate customer messages and sends after opt-out, over every scenario above."""
    assert tally.scenarios, "no fault scenario ran"
    assert tally.lost_cases == 0
    assert tally.duplicates == 0
    assert tally.sends_after_opt_out == 0
