"""Sending customer messages, understanding replies and recording consent.

Every send passes a pre-send check that reads live state right before sending: consent, channel
reachability, approved template, guardrail lint, the recipient's allowed window and frequency caps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.clock import activity_now
from activities.errors import to_application_error
from activities.ledger import ensure_recordable, record
from connectors.contract import (
    AmbiguousSendError,
    MessageChannel,
    OutboundMessage,
    PermanentProviderError,
    ReachCheck,
    RetryableProviderError,
)
from connectors.llm import classify_reply
from connectors.local.consent import ConsentLedger
from connectors.local.outbox import LocalOutbox
from connectors.local.send_intents import Intent, SendFacts, SendIntents
from connectors.local.verdicts import VerdictLog
from connectors.local.whatsapp_window import WhatsAppWindows
from connectors.sending import confirm_once, consent_confirmation, deliver
from domain import addresses
from domain.case import ConsentChange, ConsentConfirmation, SendRequest, SendResult, UnderstandRequest
from domain.models import Channel, LedgerEvent, ReplyUnderstanding
from policies import messages as message_policy
from policies import replies as reply_policy
from policies import send_rules, times
from policies import sequences as sequence_policy
from policies.schema import Purpose, Step, Template

log = structlog.get_logger(__name__)

HELP_TEMPLATE = "__help__"
OPT_OUT_CLARIFY_TEMPLATE = "__opt_out_clarify__"  # workflows/case_conversation.py
SYSTEM_TEMPLATES = frozenset({HELP_TEMPLATE, OPT_OUT_CLARIFY_TEMPLATE})
CONFIRM_WORKFLOW = "ConfirmOptOut"  # workflows/consent.py


def is_ambiguous(exc: PermanentProviderError) -> bool:
    """The provider refuses to resend because an earlier attempt may have been accepted (SendGrid has no lookup):
    the message may already be with the customer."""
    return bool(getattr(exc, "ambiguous", False)) or exc.code == "ambiguous_send"


def first_name(name: str | None) -> str:
    return (name or "").split(" ")[0] or "there"


class MessagingActivities:
    def __init__(
        self,
        channels: dict[Channel, MessageChannel],
        outbox: LocalOutbox,
        consent: ConsentLedger,
        ledger: Any,
        clock: Callable[[], datetime] = activity_now,
        reply_model: Any | None = None,
        verdicts: VerdictLog | None = None,
        intents: SendIntents | None = None,
        salt: str = "noshow",
        message_notes: Callable[[SendRequest, str, Channel | None, str], None] | None = None,
        windows: WhatsAppWindows | None = None,
    ) -> None:
        self.windows = windows or WhatsAppWindows(outbox.db)
        self.message_notes = message_notes  # the CRM timeline note per message (CrmActivities.note_message)
        self.intents = intents or SendIntents(outbox.db)
        self.salt = salt
        self.channels = channels
        self.outbox = outbox
        self.consent = consent
        self.ledger = ledger
        self.clock = clock
        self.reply_model = reply_model
        self.verdicts = verdicts

    # -------------------------------------------------------------- send

    @activity.defn(name="send_message")
    def send_message(self, req: SendRequest) -> SendResult:
        # the case's carried events and this send's own go to the ledger in one transaction (each append
        # re-summarises the case), also when the send raises to be retried
        events = list(req.ledger_events)
        ensure_recordable(self.verdicts, events)
        try:
            result = self._send(req, events)
        finally:
            record(self.ledger, self.verdicts, events)
        if self.message_notes is not None and result.status in ("sent", "failed") and not result.duplicate:
            self.message_notes(req, "possibly sent" if result.ambiguous else result.status, result.channel,
                               req.template_id)
        return result

    def _send(self, req: SendRequest, events: list[LedgerEvent]) -> SendResult:
        existing = self.outbox.lookup(req.message_id)
        if existing is not None and existing.status != "failed":
            # a retry of a send that already happened: never send it twice
            return SendResult(status="sent", channel=None, reason="already sent", duplicate=True)
        now = self.clock()
        contact = req.appointment.contact
        purpose = Purpose.informational
        opted_out = self.consent.opted_out_channels(req.contact_key, purpose.value)
        # the addresses themselves: a STOP from this phone (under any contact id) stops SMS and WhatsApp to it
        phone_key, email_key = self._address_key(contact.phone), self._address_key(contact.email)
        if phone_key and self.consent.opted_out_channels(phone_key, purpose.value):
            opted_out |= {Channel.sms.value, Channel.whatsapp.value}
        if email_key and self.consent.opted_out_channels(email_key, purpose.value):
            opted_out.add(Channel.email.value)
        if not ({c.value for c in Channel} - opted_out):
            opted_out.add("*")
        seen = sorted(opted_out)  # what the workflow may know about consent (a bare YES then re-subscribes)
        whatsapp = whatsapp_content(req, now) if Channel.whatsapp in req.channels else "not a step channel"
        facts = sequence_policy.ChannelFacts(
            has_phone=bool(contact.phone),
            has_email=bool(contact.email),
            has_push=self._reaches(Channel.push, req.contact_key) if Channel.push in req.channels else False,
            has_app=self._reaches(Channel.app, contact.contact_id) if Channel.app in req.channels else False,
            opted_out=[Channel(c) for c in opted_out if c != "*"],
            preferred=contact.preferred_channel,
            booked_via=req.appointment.booked_via,
            prefer_booked_via=req.resolved.program.send.prefer_booked_channel,
            # free text needs the customer to have written within 24 h; outside it, only an approved template
            whatsapp_last_inbound_at=self.windows.last_inbound(phone_key) if phone_key else None,
            now=now,
            whatsapp_template_approved=not isinstance(whatsapp, str),
        )
        if "*" in opted_out:
            return SendResult(status="blocked", reason="contact opted out of every channel", opted_out=seen)
        order = sequence_policy.channel_order(Step(delay_minutes=0, template=req.template_id, channels=req.channels),
                                              facts)
        if not order:
            why = "contact opted out of these channels" if opted_out else "no usable channel for this contact"
            return SendResult(status="blocked", reason=why, opted_out=seen)
        problems: list[str] = []
        refused_channels: list[Channel] = []
        for channel in order:
            rendered = self._render(req, channel)
            if isinstance(rendered, str):
                problems.append(f"{channel.value}: {rendered}")
                continue
            subject, body, template_id = rendered
            to = recipient(req, channel)
            assert to is not None  # channel_order only keeps reachable channels
            decision, refused = self._reserve(req, channel, to, now, purpose)
            if refused:  # an opt-out recorded since the check above
                refused_channels.append(channel)
                seen = sorted({*seen, channel.value})
                continue
            if decision.blocked:
                problems.append(f"{channel.value}: {'; '.join(decision.reasons)}")
                continue
            if decision.expired:
                events.append(self._event(req, "message_failed", channel, template_id, reason="expired"))
                return SendResult(status="expired", channel=channel, reason="; ".join(decision.reasons),
                                  opted_out=seen)
            if not decision.allowed:
                return SendResult(status="deferred", channel=channel, next_allowed_at=decision.next_allowed_at,
                                  reason="; ".join(decision.reasons), opted_out=seen)
            content_sid, content_vars = None, None
            if channel == Channel.whatsapp and not sequence_policy.whatsapp_session_open(facts) \
                    and not isinstance(whatsapp, str):
                content_sid, content_vars = whatsapp
            message = OutboundMessage(message_id=req.message_id, case_id=req.case_id, channel=channel, to=to,
                                      subject=subject, body=body, template_id=template_id,
                                      content_sid=content_sid, content_variables=content_vars)
            try:
                receipt = self._deliver(channel, message, req, now)
            except PermanentProviderError as exc:
                if is_ambiguous(exc):
                    # possibly delivered: count it as sent, and never send the same step again by another channel
                    self.outbox.send(message, contact_key=req.contact_key, at=now, **outbox_links(req))
                    events.append(self._event(req, "message_sent", channel, template_id, reason="ambiguous"))
                    log.info("message_possibly_sent", case_id=req.case_id, channel=channel.value,
                             template=template_id)
                    return SendResult(status="sent", channel=channel, ambiguous=True, opted_out=seen,
                                      reason=f"possibly delivered: {exc.code}; not sent again by another channel")
                self.intents.settle(req.message_id, "failed")
                if exc.window_closed and phone_key:
                    # the provider knows better than our record: no free text until the customer writes again
                    self.windows.record_refusal(phone_key, now)
                if exc.opt_out:
                    self.consent.opt_out(f"{req.message_id}-carrier-optout", req.contact_key,
                                         channel=channel.value, evidence=f"provider error {exc.code}",
                                        evidence_channel=channel.value)
                    seen = sorted({*seen, channel.value})
                events.append(self._event(req, "message_failed", channel, template_id, reason=exc.code or "permanent"))
                problems.append(f"{channel.value}: provider refused ({exc.code})")
                continue
            except (RetryableProviderError, AmbiguousSendError) as exc:
                raise to_application_error(exc) if isinstance(exc, RetryableProviderError) else \
                    to_application_error(RetryableProviderError(str(exc))) from None
            self.intents.settle(req.message_id, "sent")
            if not receipt.duplicate:
                events.append(self._event(req, "message_sent", channel, template_id))
                if isinstance(self.channels.get(channel), LocalOutbox):
                    # the embedded outbox is the recipient's inbox: written means delivered
                    events.append(self._event(req, "message_delivered", channel, template_id))
            log.info("message_sent", case_id=req.case_id, channel=channel.value, template=template_id,
                     step=req.message_id.rsplit("-", 1)[-1])
            return SendResult(status="sent", channel=channel, reason="sent", duplicate=receipt.duplicate,
                              opted_out=seen)
        if refused_channels and len(refused_channels) == len(order):
            return SendResult(status="blocked", reason="contact opted out of these channels", opted_out=seen)
        problems.extend(f"{c.value}: opted out" for c in refused_channels)
        return SendResult(status="failed", reason="; ".join(problems) or "no channel could send", opted_out=seen)

    def _reaches(self, channel: Channel, to: str) -> bool:
        connector = self.channels.get(channel)
        if connector is None:
            return False
        return connector.reaches(to) if isinstance(connector, ReachCheck) else True

    def _address_key(self, raw: str | None) -> str | None:
        if not raw:
            return None
        try:
            address = addresses.normalise_email(raw) if "@" in raw else addresses.normalise_phone(raw)
        except addresses.AddressError:
            return None  # not a usable address: the send rules refuse it on their own
        return addresses.address_key(address, self.salt)

    def _reserve(self, req: SendRequest, channel: Channel, to: str, now: datetime, purpose: Purpose
                 ) -> tuple[send_rules.SendDecision, bool]:
        """The pre-send decision (consent, window, caps) taken in the transaction that records the intent, under
        the contact's and the address's locks. (decision, refused): refused when consent is gone by now."""
        contact = req.appointment.contact
        intent = Intent(message_id=req.message_id, case_id=req.case_id, contact_key=req.contact_key,
                        address_key=self._address_key(to), channel=channel.value, at=now)

        def decide(facts: SendFacts) -> tuple[bool, tuple[send_rules.SendDecision, bool]]:
            if "*" in facts.opted_out or channel.value in facts.opted_out:
                blocked = send_rules.SendDecision(allowed=False, next_allowed_at=None, reasons=["opted out"],
                                                  zones=[], blocked=True)
                return False, (blocked, True)
            decision = send_rules.check_send(send_rules.SendCheckInput(
                now=now, channel=channel, rules=req.resolved.program.send, contact_timezone=contact.timezone,
                phone=contact.phone if channel != Channel.email else None,
                # caps limit outreach we start; answers to the customer's own message are not outreach
                recent_sends=facts.recent if req.purpose != "transactional" else [],
                created_at=req.created_at,
            ))
            return decision.allowed, (decision, False)

        return self.intents.reserve(intent, now - timedelta(days=8), purpose.value, decide)

    def _deliver(self, channel: Channel, message: OutboundMessage, req: SendRequest, now: datetime) -> Any:
        return deliver(self.channels, self.outbox, message, req.contact_key, now, **outbox_links(req))

    def _render(self, req: SendRequest, channel: Channel) -> tuple[str | None, str, str] | str:
        return render_message(req, channel, self.clock())

    def _event(self, req: SendRequest, type_: str, channel: Channel, template_id: str, reason: str | None = None
               ) -> LedgerEvent:
        appt = req.appointment
        return LedgerEvent(
            event_id=f"{req.message_id}:{type_}", case_id=req.case_id, type=type_, at=self.clock(),
            source=appt.source, appointment_type=appt.appointment_type, owner_id=appt.owner_id,
            location_id=appt.location_id, channel=channel, template_id=template_id.split("@")[0],
            segment=req.ledger.get("segment"), arm=req.ledger.get("arm"), reason=reason,
        )

    # -------------------------------------------------------------- replies

    @activity.defn(name="understand_reply")
    def understand_reply(self, req: UnderstandRequest) -> ReplyUnderstanding:
        opted_out = bool(req.contact_key) and self.consent.is_blocked(str(req.contact_key), req.reply.channel.value)
        inp = reply_policy.ReplyInput(text=req.reply.text, offered=req.offered, now=req.reply.received_at,
                                      timezone=req.timezone, review_below=req.review_below, opted_out=opted_out,
                                      payments=req.payments)
        result = classify_reply(inp, self.reply_model if req.use_model else None)
        self.ledger.append(LedgerEvent(
            event_id=f"{req.reply.reply_id}:reply_received", case_id=req.case_id, type="reply_received",
            at=req.reply.received_at, source="reply", appointment_type="-", channel=req.reply.channel,
            reason=result.intent.value,
        ))
        return result


# (contact key, the opt-out's event id, the case that already knows): tell every other open case of the contact
StopCases = Callable[[str, str, str | None], Awaitable[None]]


class ConsentActivities:
    """Opt-outs and opt-ins: recorded with evidence, confirmed once, and fanned out to every open case."""

    def __init__(self, consent: ConsentLedger, channels: dict[Channel, MessageChannel], outbox: LocalOutbox,
                 ledger: Any, client: Client | None = None, verdicts: VerdictLog | None = None,
                 stop_cases: StopCases | None = None) -> None:
        self.consent = consent
        self.stop_cases = stop_cases
        self.channels = channels
        self.outbox = outbox
        self.ledger = ledger
        self.client = client
        self.verdicts = verdicts

    @activity.defn(name="record_consent")
    async def record_consent(self, change: ConsentChange) -> None:
        import asyncio

        pending = await asyncio.to_thread(self._record, change)
        if pending is not None:
            await self._confirm_later(pending)
        if change.status == "opted_out":
            await self._stop_other_cases(change)

    @activity.defn(name="send_consent_confirmation")
    def send_consent_confirmation(self, req: ConsentConfirmation) -> None:
        """The ConfirmOptOut workflow's one activity: retried until the provider takes the confirmation."""
        message = OutboundMessage(message_id=req.message_id, case_id=req.case_id, channel=req.channel, to=req.to,
                                  subject=req.subject, body=req.body, template_id=req.template_id)
        try:
            confirm_once(self.channels, self.outbox, message, req.contact_key)
        except RetryableProviderError as exc:
            raise to_application_error(exc) from None

    async def _confirm_later(self, pending: ConsentConfirmation) -> None:
        """The provider is down: the opt-out is recorded and the case may close now; a workflow of its own sends
        the confirmation when the provider is back (one per consent event, whatever retries this activity)."""
        if self.client is None:
            raise to_application_error(RetryableProviderError("opt-out confirmation not sent yet")) from None
        with contextlib.suppress(WorkflowAlreadyStartedError):  # a retry of this activity: it runs already
            await self.client.start_workflow(
                CONFIRM_WORKFLOW, pending, id=f"confirm-{pending.message_id}", task_queue=activity.info().task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    def _record(self, change: ConsentChange) -> ConsentConfirmation | None:
        """Record the change and send its confirmation; the confirmation is returned when the provider could not
        take it now (a retryable failure)."""
        ensure_recordable(self.verdicts, change.ledger_events)
        write = self.consent.opt_out if change.status == "opted_out" else self.consent.opt_in
        write(change.event_id, change.contact_key, evidence=change.evidence, evidence_channel=change.channel.value,
              at=change.at)
        appt = change.appointment
        events = list(change.ledger_events)  # one ledger transaction with the case's carried events
        if change.status == "opted_out":
            events.append(LedgerEvent(
                event_id=f"{change.event_id}:opt_out", case_id=change.case_id, type="opt_out", at=change.at,
                source=appt.source, appointment_type=appt.appointment_type, channel=change.channel,
            ))
        record(self.ledger, self.verdicts, events)
        body = change.resolved.opt_out_confirmation if change.status == "opted_out" else \
            "You are subscribed again. Reply STOP to opt out."
        contact = appt.contact
        to = contact.email if change.channel == Channel.email else contact.phone
        connector = self.channels.get(change.channel)
        if not to or connector is None:
            return None
        message = consent_confirmation(change.event_id, change.case_id, change.channel, to, change.status, body)
        try:
            confirm_once(self.channels, self.outbox, message, change.contact_key)
        except RetryableProviderError:
            return ConsentConfirmation(message_id=message.message_id, case_id=change.case_id,
                                       contact_key=change.contact_key, channel=change.channel, to=to,
                                       subject=message.subject, body=body, template_id=message.template_id)
        return None

    async def _stop_other_cases(self, change: ConsentChange) -> None:
        if self.stop_cases is not None:
            await self.stop_cases(change.contact_key, change.event_id, change.case_id)


# variables the workflow passes as ISO instants (it has no time zone data): shown as the reader reads them
TIME_VARIABLES = frozenset({"new_appointment_time", "slot_list", "offer_expires"})


def recipient(req: SendRequest, channel: Channel) -> str | None:
    """Whom a channel writes to: the phone or the email address; for push the contact's opaque key (its
    subscriptions are stored under it); for the business's app the contact's id in the business's systems."""
    contact = req.appointment.contact
    if channel == Channel.email:
        return contact.email
    if channel == Channel.push:
        return req.contact_key
    if channel == Channel.app:
        return contact.contact_id
    return contact.phone


def outbox_links(req: SendRequest) -> dict[str, str]:
    """What the outbox keeps of a send for the provider's later statuses: the CRM contact their timeline notes
    go to and the program whose rules decide on them (ids only)."""
    return {"crm_contact_id": req.appointment.contact.contact_id, "program": req.resolved.program.name}


def reader_style(req: SendRequest, now: datetime) -> times.TimeStyle:
    """How the recipient reads times: their zone (the location's when unknown), their locale, the business's
    zone for the label."""
    program = req.resolved.program
    location = program.rebooking.business_hours.timezone or program.send.default_timezone
    contact = req.appointment.contact
    return times.TimeStyle.for_contact(contact.timezone, location, contact.locale, business_zone=location, now=now)


def render_message(req: SendRequest, channel: Channel, now: datetime) -> tuple[str | None, str, str] | str:
    """(subject, body, template id@version) exactly as `send_message` sends it on `channel` at `now`, or why it
    cannot be sent: the console shows reviewers the message an approval would send."""
    if req.template_id == HELP_TEMPLATE:
        return None, req.resolved.help_text, HELP_TEMPLATE
    if req.template_id == OPT_OUT_CLARIFY_TEMPLATE:
        return None, req.resolved.opt_out_clarification, OPT_OUT_CLARIFY_TEMPLATE
    resolved = resolve_template(req, channel, now)
    if isinstance(resolved, str):
        return resolved
    template, variables = resolved
    try:
        subject, body = message_policy.render(template, variables)
    except KeyError as exc:
        return f"template {template.id} needs variable {exc}"
    # lint the approved template text (with its approved exceptions), not the filled-in body, so a customer
    # called "Bill" cannot trip the billing rule; the approved text is what a human signed off
    lint = message_policy.lint_template(template, vertical=req.resolved.program.vertical,
                                        first_message=req.first_message, help_text=req.resolved.help_text)
    if not lint.ok:
        return "guardrail lint failed: " + ", ".join(p.code for p in lint.problems)
    return subject, body, f"{template.id}@v{template.version}"


def resolve_template(req: SendRequest, channel: Channel, now: datetime) -> tuple[Template, dict[str, str]] | str:
    """The approved template for `channel` and the variables that fill it, or why there is none."""
    contact = req.appointment.contact
    try:
        template = message_policy.select_template(req.resolved.templates, req.template_id, channel,
                                                  contact.locale, kind=req.kind.value if req.kind else None,
                                                  segment=req.ledger.get("segment"))
    except message_policy.TemplateNotFound as exc:
        return str(exc)
    style = reader_style(req, now)
    start = req.appointment.start
    variables = {
        "first_name": first_name(contact.name),
        "appointment_type": req.appointment.appointment_type.replace("_", " "),
        "appointment_date": style.day(start, relative=False),
        "appointment_time": style.time(start),
        "business_name": req.resolved.program.name,
        **{k: times.readable(v, style, until=k == "offer_expires") if k in TIME_VARIABLES else v
           for k, v in req.variables.items()},
    }
    return template, variables


def whatsapp_content(req: SendRequest, now: datetime) -> tuple[str, dict[str, str]] | str:
    """The WhatsApp-approved Content template (ContentSid and its numbered variables) that may go outside the
    customer-service window, or why there is none."""
    resolved = resolve_template(req, Channel.whatsapp, now) if req.template_id not in SYSTEM_TEMPLATES else \
        "system replies have no WhatsApp template"
    if isinstance(resolved, str):
        return resolved
    template, variables = resolved
    if not template.content_sid:
        return f"template {template.id} has no WhatsApp content_sid"
    try:
        return template.content_sid, message_policy.content_variables(template, variables)
    except KeyError as exc:
        return f"template {template.id} needs variable {exc}"
