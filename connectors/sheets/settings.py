"""The Google Sheets connector's settings. OAuth is Google's (NOSHOW_GOOGLE_CLIENT_ID + _CLIENT_SECRET +
_REFRESH_TOKEN, consented with the `spreadsheets` scope), shared with the Google Calendar connector's token
manager."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class SheetsSettings(EnvSection):
    """NOSHOW_SHEETS_SPREADSHEET_ID (from the sheet's URL), _SHEET (the tab, default `Sheet1`), _BASE_URL,
    _TIMEZONE (for times written without an offset and no `timezone` column), _OUTCOME_COLUMNS (JSON: engine
    field -> the header of the column it is written to), _CHANNEL_TOKEN (the `token` of a Drive `files.watch`
    channel: opens /webhooks/sheets)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_SHEETS_")

    spreadsheet_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{10,200}$")
    sheet: str = Field(default="Sheet1", min_length=1, max_length=100)
    base_url: str = "https://sheets.googleapis.com"
    timezone: str = "UTC"
    outcome_columns: dict[str, str] = Field(default_factory=dict)
    channel_token: SecretStr | None = None
