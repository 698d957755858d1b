"""Message library and guardrail linter: families of words, not fixtures; encoding and segments."""

from __future__ import annotations

import pytest

from domain.models import Channel
from policies.loader import load_policy, parse_policy
from policies.messages import (
    MissingVariable,
    TemplateNotFound,
    lint,
    lint_policy,
    lint_template,
    normalise_for_sms,
    render,
    select_template,
    sms_encoding,
)
from policies.schema import Purpose, Template

SMS = Channel.sms


def codes(text: str, **kw) -> set[str]:  # type: ignore[no-untyped-def]
    channel = kw.pop("channel", SMS)
    return {p.code for p in lint(text, channel, **kw).problems}


@pytest.mark.parametrize(
    ("code", "texts"),
    [
        ("shaming", ["You FAILED to show up today.", "We're disappointed in you", "That was irresponsible!",
                     "You didn't even bother to call", "Honestly, rude.", "you wasted our time",
                     "Such carelessness", "You forgot AGAIN"]),
        ("threat", ["Reply now or else.", "FINAL WARNING: call us", "We will report you", "you may be banned",
                    "Your account will be sent to collections", "Penalties apply", "We will charge you",
                    "Further consequences may follow", "Last chance to respond"]),
        ("overpromise", ["We guarantee a slot", "Guaranteed results", "we promised you", "100% satisfaction",
                         "Risk-free rebooking", "No wait at all", "This will cure it", "money-back offer"]),
        ("fee_billing", ["A no-show fee applies", "FEES may apply", "You'll be charged", "charging your card",
                         "Your invoice is ready", "billing question", "please pay", "payment due",
                         "Your balance is $40", "refunds", "deposit required", "costs $20", "20 USD",
                         "Se aplicará un cargo"]),
        ("legal", ["Our attorney will contact you", "lawsuit", "We may sue", "legal team", "you are liable",
                   "breach of agreement", "small claims court"]),
        ("medical", ["About your diagnosis", "your symptoms", "prescription refill", "test results are in",
                     "your therapy session", "Chemotherapy follow-up", "blood test", "your surgery",
                     "pregnancy check", "HIV clinic"]),
        ("marketing", ["20% off your next visit", "Big SALE today", "Discounted rebooking", "limited-time offer",
                       "use coupon SAVE", "free consultation if you rebook", "special offers inside", "Act now!",
                       "Upgrade your plan"]),
        ("shaft", ["Free beer with every visit", "CBD products", "gun show"]),
        ("shortener", ["rebook at bit.ly/abc"]),
    ],
)
def test_word_families_are_caught_in_any_case_or_inflection(code: str, texts: list[str]) -> None:
    for text in texts:
        assert code in codes(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Hi {first_name}, we missed you today. Would you like to pick a new time? Reply STOP to opt out.",
        "Hi {first_name}, feel free to reply with a day that suits you.",
        "Here are some open times:\n{slot_list}\nReply with the number you want.",
        "You're booked for {new_appointment_time}. Reply if you need to change it.",
        "Thanks! A team member will reach out shortly.",
        "We have openings this week; reply with a day and time that works for you.",
        "Sorry, that time was just taken. Here are other open times.",
    ],
)
def test_polite_recovery_messages_pass(text: str) -> None:
    result = lint(text, SMS)
    assert result.ok, result.problems


def test_words_inside_other_words_do_not_trigger() -> None:
    # fee in "feel", sue in "issue", ban in "banana", cost in "costume", sale in "salesforce"
    assert lint("Feel free to reply about any issue, banana costume salesforce.", SMS).ok


def test_variable_names_are_not_judged_as_words() -> None:
    assert "fee_billing" not in codes("Your {booking_link} is ready")
    assert "unknown_variable" in codes("Balance: {balance_due}")


def test_marketing_allowed_only_for_marketing_purpose_templates() -> None:
    assert "marketing" in codes("20% off today")
    assert "marketing" not in codes("20% off today", purpose=Purpose.marketing)


def test_phi_in_sms_for_healthcare_only() -> None:
    text = "Hi {first_name}, your {appointment_type} results are ready."
    assert "phi_in_sms" in codes(text, vertical="healthcare")
    assert "phi_in_sms" in codes("About your colonoscopy tomorrow", vertical="dental")
    assert "phi_in_sms" not in codes(text, vertical="general")
    assert "phi_in_sms" not in codes(text, vertical="healthcare", channel=Channel.email)
    assert "phi_in_sms" in codes(text, vertical="healthcare", channel=Channel.whatsapp)
    assert lint("Hi {first_name}, we missed you today. Call us to rebook. Reply STOP to opt out.", SMS,
                vertical="healthcare", first_message=True).ok


def test_missing_opt_out_on_first_sms_only() -> None:
    plain = "Hi {first_name}, want a new time?"
    assert "missing_opt_out" in codes(plain, first_message=True)
    assert "missing_opt_out" not in codes(plain, first_message=False)
    assert "missing_opt_out" not in codes(plain, first_message=True, channel=Channel.email)
    for ok in ("Reply STOP to opt out.", "Text stop to unsubscribe", "STOP to end", "Reply 'END' to quit",
               "Responda STOP para no recibir mensajes", "{help_text}"):
        assert "missing_opt_out" not in codes(f"{plain} {ok}", first_message=True), ok


def test_marketing_email_needs_unsubscribe() -> None:
    assert "missing_unsubscribe" in codes("Big news", channel=Channel.email, purpose=Purpose.marketing)
    assert "missing_unsubscribe" not in codes("Big news. Unsubscribe here.", channel=Channel.email,
                                              purpose=Purpose.marketing)


def test_gsm7_and_ucs2_segments() -> None:
    assert sms_encoding("a" * 160) == ("GSM-7", 1)
    assert sms_encoding("a" * 161) == ("GSM-7", 2)
    assert sms_encoding("a" * 306) == ("GSM-7", 2)
    assert sms_encoding("a" * 307) == ("GSM-7", 3)
    # extension characters count double
    assert sms_encoding("€" * 80) == ("GSM-7", 1)
    assert sms_encoding("€" * 81) == ("GSM-7", 2)
    assert sms_encoding("a" * 159 + "[") == ("GSM-7", 2)
    # an escape pair is never split: after 152 septets it moves whole to the next segment
    assert sms_encoding("a" * 152 + "€" + "a" * 151) == ("GSM-7", 2)
    assert sms_encoding("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)
    # one smart quote or emoji switches the whole message to UCS-2
    assert sms_encoding("it\u2019s") == ("UCS-2", 1)
    assert sms_encoding("a" * 70) == ("GSM-7", 1)
    assert sms_encoding("\u2019" + "a" * 69) == ("UCS-2", 1)
    assert sms_encoding("\u2019" + "a" * 70) == ("UCS-2", 2)
    assert sms_encoding("😀" * 35) == ("UCS-2", 1)
    assert sms_encoding("😀" * 36) == ("UCS-2", 2)


def test_avoidable_ucs2_fails_lint_but_real_accents_only_warn() -> None:
    bad = lint("We\u2019ll see you soon 😀", SMS)
    assert "ucs2_avoidable" in {p.code for p in bad.problems} and bad.encoding == "UCS-2"
    accented = lint("Le esperamos. ¿Quiere otra hora? Gracias, más tarde", SMS)
    assert accented.ok and accented.encoding == "UCS-2" and accented.warnings
    fixed = normalise_for_sms("We\u2019ll \u201csee\u201d you \u2013 soon\u2026")
    assert sms_encoding(fixed)[0] == "GSM-7"


def test_segment_limits() -> None:
    long = "Please reply with a day that suits you. " * 12
    assert "too_long" in codes(long, max_segments=2)
    assert "too_long" in codes("Please reply with a time that works for you. " * 4, vertical="healthcare")
    assert lint(long, Channel.email).segments == 1


def test_only_approved_templates_are_selectable() -> None:
    t_unapproved_newer = Template(id="x", version=2, channel=SMS, body="new", approved=False)
    t_approved = Template(id="x", version=1, channel=SMS, body="old", approved=True, approved_by="ops")
    t_es = Template(id="x", version=1, channel=SMS, locale="es", body="hola", approved=True, approved_by="ops")
    templates = [t_unapproved_newer, t_approved, t_es]
    assert select_template(templates, "x", SMS, "en").body == "old"
    assert select_template(templates, "x", SMS, "es-MX").body == "hola"
    assert select_template(templates, "x", SMS, "fr").body == "old"
    with pytest.raises(TemplateNotFound):
        select_template(templates, "x", Channel.email, "en")
    with pytest.raises(TemplateNotFound):
        select_template([t_unapproved_newer], "x", SMS, "en")


def test_render_requires_variables_and_neutralises_braces() -> None:
    t = Template(id="x", channel=Channel.email, subject="For {first_name}", body="Hi {first_name}",
                 approved=True, approved_by="ops")
    assert render(t, {"first_name": "{booking_link}"}) == ("For (booking_link)", "Hi (booking_link)")
    with pytest.raises(MissingVariable):
        render(t, {})


def test_lint_exceptions_waive_only_waivable_codes() -> None:
    fee = Template(id="f", channel=Channel.email, body="A fee of $25 applies to late cancellations.",
                   approved=True, approved_by="ops", lint_exceptions=["fee_billing"])
    assert lint_template(fee).ok
    threat = Template(id="t", channel=Channel.email, body="Final warning: pay the fee or else.", approved=True,
                      approved_by="ops", lint_exceptions=["fee_billing", "threat"])
    assert {p.code for p in lint_template(threat).problems} == {"threat"}


def test_default_templates_all_pass_lint() -> None:
    policy = load_policy()
    for t in policy.templates:
        result = lint_template(t, first_message=t.id == "missed_first")
        assert result.ok, (t.id, t.channel, t.locale, result.problems)


BASE = """\
version: "m1"
sources: [{ source: local }]
programs:
  - name: p
    vertical: VERTICAL
    send: { caps: CAPS }
    sequences: { first_time: { steps: [{ delay_minutes: 0, template: first, channels: [sms] }] } }
templates:
  - id: first
    channel: sms
    body: "BODY"
    approved: APPROVED
    approved_by: ops
"""


def policy_with(body: str, vertical: str = "general", approved: str = "true",
                caps: str = "[{count: 3, hours: 24}]"):  # type: ignore[no-untyped-def]
    text = (BASE.replace("BODY", body).replace("VERTICAL", vertical).replace("APPROVED", approved)
            .replace("CAPS", caps))
    return parse_policy(text)


def test_lint_policy_approved_template_that_fails_is_an_error() -> None:
    problems = lint_policy(policy_with("You failed to come. Reply STOP to opt out."))
    assert any(p.severity == "error" and p.code == "shaming" and p.loc == ("templates", 0, "body")
               for p in problems)


def test_lint_policy_first_sms_needs_opt_out() -> None:
    problems = lint_policy(policy_with("Want a new time?"))
    assert any(p.severity == "error" and p.code == "missing_opt_out" for p in problems)


def test_lint_policy_unapproved_failures_are_warnings() -> None:
    text = BASE.replace("BODY", "Guaranteed slot!").replace("VERTICAL", "general").replace(
        "approved: APPROVED\n    approved_by: ops\n", "approved: false\n").replace("CAPS", "[{count: 3, hours: 24}]")
    text = text.replace("template: first", "template: second") + (
        "  - { id: second, channel: sms, body: \"Want a new time? Reply STOP to opt out.\", approved: true,"
        " approved_by: ops }\n"
    )
    problems = lint_policy(parse_policy(text))
    assert any(p.severity == "warning" and p.code == "overpromise" for p in problems)
    assert not any(p.severity == "error" for p in problems)


def test_lint_policy_healthcare_caps_and_phi() -> None:
    body = "Hi, your {appointment_type} was missed. Reply STOP to opt out."
    problems = lint_policy(policy_with(body, vertical="healthcare"))
    found = {(p.severity, p.code) for p in problems}
    assert ("error", "phi_in_sms") in found
    assert ("error", "healthcare_caps") in found
    ok = lint_policy(policy_with("Hi, want a new time? Call us. Reply STOP to opt out.", vertical="healthcare",
                                 caps="[{count: 1, hours: 24}, {count: 3, hours: 168}]"))
    assert not [p for p in ok if p.severity == "error"]
