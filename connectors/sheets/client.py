"""Google Sheets API v4 client: `spreadsheets.values.get` to read a range and `spreadsheets.values.batchUpdate`
to write cells (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get,
https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/batchUpdate), base
`https://sheets.googleapis.com/`. A bearer token from Google OAuth with the
`https://www.googleapis.com/auth/spreadsheets` scope (read-only: `spreadsheets.readonly`)
(https://developers.google.com/sheets/api/scopes). Errors are Google's JSON error body
(https://cloud.google.com/apis/design/errors): 429 `RESOURCE_EXHAUSTED` is retryable, other 4xx permanent.
UNVERIFIED: the per-minute read and write quotas (https://developers.google.com/sheets/api/limits), so no
client-side rate is set beyond the provider's 429.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.http import segment
from connectors.oauth import BearerJsonApi, TokenSource

DEFAULT_BASE_URL = "https://sheets.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/spreadsheets"


def a1_column(index: int) -> str:
    """The A1 column letters of a zero-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def quoted_sheet(name: str) -> str:
    """A sheet name as an A1 prefix: quoted, with quotes doubled, so spaces and `!` cannot reshape the range."""
    return "'" + name.replace("'", "''") + "'"


class SheetsClient(BearerJsonApi):
    provider = "sheets"

    def __init__(self, access_token: TokenSource, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(access_token, base_url, timeout, http)

    def values(self, spreadsheet_id: str, a1_range: str) -> list[list[Any]]:
        """The rows of `a1_range`, each a list of cell values as displayed (trailing empty cells are omitted by
        the API, so rows can be shorter than the header)."""
        body = self.call("GET", f"/v4/spreadsheets/{segment(spreadsheet_id)}/values/{segment(a1_range)}",
                         params={"majorDimension": "ROWS", "valueRenderOption": "FORMATTED_VALUE"})
        rows = body.get("values") if isinstance(body, dict) else None
        return [r for r in rows if isinstance(r, list)] if isinstance(rows, list) else []

    def batch_update(self, spreadsheet_id: str, cells: dict[str, str]) -> int:
        """Write single cells (`'Sheet'!H5` -> value) as RAW text in one request; the number of cells updated."""
        data = [{"range": a1, "majorDimension": "ROWS", "values": [[value]]} for a1, value in cells.items()]
        body = self.call("POST", f"/v4/spreadsheets/{segment(spreadsheet_id)}/values:batchUpdate",
                         json_body={"valueInputOption": "RAW", "data": data, "includeValuesInResponse": False})
        total = body.get("totalUpdatedCells") if isinstance(body, dict) else None
        return int(total) if isinstance(total, int) else 0
