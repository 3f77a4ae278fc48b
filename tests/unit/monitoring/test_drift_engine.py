"""The embedding drift engine is a typed setting: ``TRIAGE_MONITOR__ENGINE`` names a :class:`DriftEngine`, and every
engine has its builder."""

from __future__ import annotations

import pytest

from tweet_triage.errors import SettingsError
from tweet_triage.monitoring.drift import alibi_engine
from tweet_triage.settings import DriftEngine, load_settings


def test_the_environment_names_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_MONITOR__ENGINE", "mmd")
    assert load_settings().monitor.engine is DriftEngine.MMD


def test_an_unknown_engine_is_a_settings_error_naming_the_variable_and_the_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIAGE_MONITOR__ENGINE", "lsdd")
    with pytest.raises(SettingsError, match="TRIAGE_MONITOR__ENGINE: Input should be 'mmd'"):
        load_settings()


def test_every_engine_has_a_builder() -> None:
    assert set(alibi_engine._EMBEDDING_BACKENDS) == set(DriftEngine)
