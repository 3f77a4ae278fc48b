from __future__ import annotations

import pytest
from pydantic import SecretStr

from tweet_triage.api.auth import ApiKeys, Verdict


@pytest.mark.parametrize(
    ("bearer", "header", "verdict"),
    [
        ("k1", None, Verdict.OK),
        (None, "k2", Verdict.OK),
        (" k2 ", None, Verdict.OK),
        ("nope", None, Verdict.WRONG),
        ("nope", "k1", Verdict.OK),
        (None, None, Verdict.MISSING),
        ("", "  ", Verdict.MISSING),
    ],
)
def test_keys_are_checked(bearer: str | None, header: str | None, verdict: Verdict) -> None:
    keys = ApiKeys.from_setting(SecretStr("k1, k2,"))
    assert keys.check(bearer=bearer, header_key=header) is verdict


@pytest.mark.parametrize("setting", [None, SecretStr(""), SecretStr(" , ")])
def test_without_keys_writes_are_disabled(setting: SecretStr | None) -> None:
    assert ApiKeys.from_setting(setting).check(bearer="anything", header_key=None) is Verdict.DISABLED
