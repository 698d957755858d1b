"""Push-channel upkeep settings that cannot work are refused with a message naming both settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workers.providers.sources import ReconcileSettings


def test_renewing_before_a_channel_could_ever_live_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_PUSH_RENEW_BEFORE_HOURS", "40")
    monkeypatch.setenv("NOSHOW_GOOGLE_CHANNEL_TTL_HOURS", "30")
    with pytest.raises(ValidationError, match="NOSHOW_PUSH_RENEW_BEFORE_HOURS must be shorter"):
        ReconcileSettings()
    monkeypatch.setenv("NOSHOW_GOOGLE_CHANNEL_TTL_HOURS", "72")
    assert ReconcileSettings().push_renew_before_hours == 40
