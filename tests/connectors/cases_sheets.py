"""Google Sheets through the conformance kit: the values client's error mapping against the fake (Google's
error body, https://cloud.google.com/apis/design/errors). The Drive push ping carries no body to sign, so its
token check is tested in test_sheets.py."""

from __future__ import annotations

from typing import Any

from connectors.sheets.client import SheetsClient
from tests.connectors.kit import OutboundCase
from tests.fakes.sheets_fake import SheetsFake

SPREADSHEET = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def _seeded() -> SheetsFake:
    fake = SheetsFake()
    fake.put_sheet(SPREADSHEET, "Sheet1", [["appointment_id", "start", "end"]])
    return fake


def _google_error(status: int) -> Any:
    return {"error": {"code": status, "message": "refused",
                      "status": "INVALID_ARGUMENT" if status == 400 else "NOT_FOUND"}}


def outbound_cases() -> list[OutboundCase]:
    return [OutboundCase(
        name="sheets", fake=_seeded,
        call=lambda url, t: SheetsClient("sheets-token", base_url=url, timeout=t).values(SPREADSHEET, "Sheet1!A:ZZ"),
        path_contains=f"/v4/spreadsheets/{SPREADSHEET}/values/",
        error_body=_google_error,
        expected_code=lambda s: str(s),  # the shared mapping reads `error.code` before `error.status`
    )]
