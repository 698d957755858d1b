"""docs/connectors.md's "Every system at a glance" table covers every system the README says the engine
reaches, each with what it reads, what it writes and what is unverified against the live service."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "| System | Reads | Writes | Auth | UNVERIFIED against the live service |"

# each system the README names -> the start of its row's first cell, and a word its row must carry
SYSTEMS: dict[str, tuple[str, str]] = {
    "Cal.com": ("Cal.com", ""),
    "Calendly": ("Calendly", ""),
    "Google Calendar": ("Google Calendar", ""),
    "Outlook": ("Outlook", ""),
    "HubSpot": ("HubSpot", ""),
    "Salesforce": ("Salesforce", ""),
    "GoHighLevel": ("GoHighLevel", ""),
    "Acuity": ("Acuity", ""),
    "Square": ("Square", ""),
    "Zoho CRM": ("Zoho CRM", ""),
    "ServiceTitan": ("ServiceTitan", ""),
    "Jobber": ("Jobber", ""),
    "Pipedrive": ("Pipedrive", ""),
    "ActiveCampaign": ("ActiveCampaign", ""),
    "Zendesk": ("Zendesk", ""),
    "Freshdesk": ("Freshdesk", ""),
    "Mailchimp": ("Mailchimp", ""),
    "QuickBooks Online": ("QuickBooks Online", ""),
    "Google Sheets": ("Google Sheets", ""),
    "Airtable": ("Airtable", ""),
    "Twilio SMS": ("Twilio", "SMS"),
    "Twilio WhatsApp": ("Twilio", "WhatsApp"),
    "SendGrid": ("SendGrid", ""),
    "Gmail": ("Gmail", ""),
    "Slack": ("Slack", ""),
    "phone systems": ("Phone systems", "/webhooks/events"),
    "booking forms": ("Booking forms", "/webhooks/events"),
    "intake systems": ("Intake systems", "/webhooks/events"),
    "in-app notifications (push)": ("Web Push", ""),
    "in-app notifications (app)": ("Business app webhook", ""),
    "Jane App": ("Jane App", ""),
    "Mindbody": ("Mindbody", ""),
    "Dentrix": ("Dentrix", ""),
    "FHIR/Epic": ("FHIR", "Epic"),
}


def glance_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "connectors.md").read_text()
    section = text.split("## Every system at a glance", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines and lines[0] == HEADER
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[2:]]
    for row in rows:
        assert len(row) == 5, row
    return rows


def test_every_system_has_a_row_with_reads_writes_and_unverified() -> None:
    rows = glance_rows()
    missing, empty = [], []
    for system, (label, needle) in SYSTEMS.items():
        found = [r for r in rows if r[0].startswith(label)]
        if not found:
            missing.append(system)
            continue
        row = found[0]
        if not all(row[i] for i in (1, 2, 4)) or needle not in " ".join(row):
            empty.append(system)
    assert missing == [], f"no row in the table for: {missing}"
    assert empty == [], f"rows without reads, writes, UNVERIFIED or their channel: {empty}"

