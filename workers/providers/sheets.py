"""Google Sheets built from settings: the client (Google's token manager, the sheet consented with the
`spreadsheets` scope), the polled source, the outcome writer, the Drive push route and the checks
`noshow connectors check` prints. No network here."""

from __future__ import annotations

from typing import Any

from connectors.local.db import LocalDb
from connectors.local.row_hashes import RowHashes
from connectors.settings import secret
from connectors.sheets.client import SheetsClient, quoted_sheet
from connectors.sheets.inbound import SheetsDriveInbound
from connectors.sheets.outcomes import SheetsOutcomes, column_problems
from connectors.sheets.source import SheetsSource
from policies.schema import CrmRules
from workers.providers.checks import url_problem
from workers.providers.tokens import google_token
from workers.settings import Settings

TITLE = "Google Sheets"
CREDENTIAL = "NOSHOW_GOOGLE_ACCESS_TOKEN (or NOSHOW_GOOGLE_CLIENT_ID + NOSHOW_GOOGLE_REFRESH_TOKEN)"


def sheets_client(s: Settings) -> SheetsClient:
    return SheetsClient(google_token(s) or "", base_url=s.sheets.base_url)


def sheets_range(s: Settings) -> str:
    return f"{quoted_sheet(s.sheets.sheet)}!A:ZZ"


def sheets_source(s: Settings) -> SheetsSource:
    return SheetsSource(sheets_client(s), RowHashes(LocalDb(s.storage.database)), s.sheets.spreadsheet_id or "",
                        sheets_range(s), default_timezone=s.sheets.timezone)


def sheets_problems(s: Settings) -> list[str]:
    problems = [] if google_token(s) else [f"missing {CREDENTIAL}"]
    if not s.sheets.spreadsheet_id:
        problems.append("missing NOSHOW_SHEETS_SPREADSHEET_ID")
    problems += [x for x in [url_problem(s.sheets.base_url, "NOSHOW_SHEETS_BASE_URL")] if x]
    refused = column_problems(s.sheets.outcome_columns)
    if refused:
        problems.append("NOSHOW_SHEETS_OUTCOME_COLUMNS: " + "; ".join(refused)[:200])
    return problems


def sheets_crm(s: Settings, crm: Any, rules: CrmRules) -> SheetsOutcomes:
    return SheetsOutcomes(sheets_client(s), s.sheets.spreadsheet_id or "", s.sheets.sheet, s.sheets.outcome_columns,
                          rules)


def sheets_inbound(s: Settings) -> SheetsDriveInbound:
    return SheetsDriveInbound(secret(s.sheets.channel_token) or "")
