"""Push-channel upkeep settings that cannot work are refused with a message naming both settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workers.settings import Settings


def test_renewing_before_a_channel_could_ever_live_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_PUSH_RENEW_BEFORE_HOURS", "40")
    monkeypatch.setenv("NOSHOW_GOOGLE_CHANNEL_TTL_HOURS", "30")
    with pytest.raises(ValidationError, match="NOSHOW_PUSH_RENEW_BEFORE_HOURS must be shorter"):
        Settings()
    monkeypatch.setenv("NOSHOW_GOOGLE_CHANNEL_TTL_HOURS", "72")
    assert Settings().push.renew_before_hours == 40
