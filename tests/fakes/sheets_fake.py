"""A fake of the Google Sheets API v4 values endpoints, from Google's reference:
- `GET /v4/spreadsheets/{id}/values/{range}` answers a ValueRange `{range, majorDimension, values}` with
  trailing empty cells and rows left out
  (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get);
- `POST /v4/spreadsheets/{id}/values:batchUpdate` with `{valueInputOption, data: [ValueRange]}`
  (`valueInputOption` required) answers `{spreadsheetId, totalUpdatedRows, totalUpdatedColumns,
  totalUpdatedCells, totalUpdatedSheets, responses}`
  (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/batchUpdate);
- errors are `{"error": {"code", "message", "status"}}` (https://cloud.google.com/apis/design/errors).
Ranges are `'Sheet name'!A:ZZ` (whole columns) or single cells `'Sheet name'!H5`; a bearer token is required.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

_RANGE = re.compile(r"^(?:'((?:[^']|'')+)'|([^!']+))!([A-Z]+)(\d*)(?::([A-Z]+)(\d*))?$")


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - ord("A") + 1)
    return n - 1


def _error(code: int, status: str, message: str) -> FakeResponse:
    return FakeResponse(code, {"error": {"code": code, "message": message, "status": status}})


class SheetsFake(FakeServer):
    def __init__(self, token: str = "sheets-token") -> None:
        self.tokens = {token}
        self.sheets: dict[str, dict[str, list[list[str]]]] = {}
        super().__init__()

    def put_sheet(self, spreadsheet_id: str, sheet: str, rows: list[list[str]]) -> None:
        self.sheets.setdefault(spreadsheet_id, {})[sheet] = [list(r) for r in rows]

    def rows(self, spreadsheet_id: str, sheet: str) -> list[list[str]]:
        return self.sheets[spreadsheet_id][sheet]

    def setup_routes(self) -> None:
        self.route("GET", r"/v4/spreadsheets/([^/]+)/values/([^/:]+)", self._get)
        self.route("POST", r"/v4/spreadsheets/([^/]+)/values:batchUpdate", self._batch_update)

    def _auth(self, req: RecordedRequest) -> FakeResponse | None:
        given = req.headers.get("authorization", "")
        if not given.startswith("Bearer ") or given[7:] not in self.tokens:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        return None

    def _resolve(self, spreadsheet_id: str, a1: str) -> tuple[list[list[str]], re.Match[str]] | FakeResponse:
        book = self.sheets.get(spreadsheet_id)
        if book is None:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        m = _RANGE.match(a1)
        if m is None:
            return _error(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1}")
        name = (m.group(1) or "").replace("''", "'") or m.group(2)
        if name not in book:
            return _error(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1}")
        return book[name], m

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._auth(req)
        if denied:
            return denied
        found = self._resolve(m.group(1), m.group(2))
        if isinstance(found, FakeResponse):
            return found
        rows, rng = found
        first, last = column_index(rng.group(3)), column_index(rng.group(5) or rng.group(3))
        out = []
        for row in rows:
            cells = row[first:last + 1]
            while cells and cells[-1] == "":
                cells.pop()
            out.append(cells)
        while out and not out[-1]:
            out.pop()
        body: dict[str, Any] = {"range": m.group(2), "majorDimension": "ROWS"}
        if out:
            body["values"] = out
        return FakeResponse(200, body)

    def _batch_update(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._auth(req)
        if denied:
            return denied
        body = req.json() or {}
        if body.get("valueInputOption") not in ("RAW", "USER_ENTERED"):
            return _error(400, "INVALID_ARGUMENT", "Invalid valueInputOption")
        responses, cells = [], 0
        for item in body.get("data") or []:
            found = self._resolve(m.group(1), str(item.get("range", "")))
            if isinstance(found, FakeResponse):
                return found
            rows, rng = found
            if not rng.group(4) or rng.group(5):
                return _error(400, "INVALID_ARGUMENT", "the fake writes single cells only")
            r, c = int(rng.group(4)) - 1, column_index(rng.group(3))
            value = item["values"][0][0]
            while len(rows) <= r:
                rows.append([])
            while len(rows[r]) <= c:
                rows[r].append("")
            rows[r][c] = str(value)
            cells += 1
            responses.append({"spreadsheetId": m.group(1), "updatedRange": item["range"], "updatedRows": 1,
                              "updatedColumns": 1, "updatedCells": 1})
        return FakeResponse(200, {"spreadsheetId": m.group(1), "totalUpdatedRows": len(responses),
                                  "totalUpdatedColumns": len(responses), "totalUpdatedCells": cells,
                                  "totalUpdatedSheets": 1 if responses else 0, "responses": responses})
