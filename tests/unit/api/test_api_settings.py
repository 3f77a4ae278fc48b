from __future__ import annotations

import pytest

from tweet_triage.errors import SettingsError
from tweet_triage.settings import describe, load_settings


def test_api_and_dashboard_bind_localhost_and_find_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.api.host, settings.dashboard.host) == ("127.0.0.1", "127.0.0.1")
    assert settings.api_url == "http://127.0.0.1:18000"
    monkeypatch.setenv("TRIAGE_API__PORT", "19000")
    assert load_settings().api_url == "http://127.0.0.1:19000"
    monkeypatch.setenv("TRIAGE_DASHBOARD__API_URL", "https://triage.example.org/")
    assert load_settings().api_url == "https://triage.example.org"


def test_keys_come_from_the_environment_and_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_API__KEYS", "first-key-123456,second-key-654321")
    monkeypatch.setenv("TRIAGE_DASHBOARD__API_KEY", "first-key-123456")
    rows = {row.variable: row for row in describe(load_settings())}
    for name in ("TRIAGE_API__KEYS", "TRIAGE_DASHBOARD__API_KEY"):
        assert rows[name].secret and "key" not in rows[name].value


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TRIAGE_API__MAX_BATCH", "0"), ("TRIAGE_API__MAX_BODY_BYTES", "10"), ("TRIAGE_DASHBOARD__REFRESH_S", "0")],
)
def test_bad_limits_fail_naming_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()
