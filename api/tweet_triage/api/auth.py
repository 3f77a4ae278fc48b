"""API keys for write endpoints: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.

Keys come only from the settings (``TRIAGE_API__KEYS``, comma-separated so a key can be rotated without downtime:
add the new one, move clients, drop the old one). Comparison is constant-time. With no keys configured, every write
is refused: an API that forgot its keys must not be open.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no credentials sent
    WRONG = "wrong"  # credentials sent, none matches
    DISABLED = "disabled"  # the server has no keys: writes are switched off


@dataclass(frozen=True)
class ApiKeys:
    keys: tuple[bytes, ...]

    @classmethod
    def from_setting(cls, value: SecretStr | None) -> ApiKeys:
        raw = value.get_secret_value() if value is not None else ""
        return cls(tuple(key.strip().encode() for key in raw.split(",") if key.strip()))

    def check(self, *, bearer: str | None, header_key: str | None) -> Verdict:
        if not self.keys:
            return Verdict.DISABLED
        offered = [c.strip().encode() for c in (bearer, header_key) if c and c.strip()]
        if not offered:
            return Verdict.MISSING
        # compare against every key, without stopping early, so timing does not tell which one was close
        matches = [hmac.compare_digest(candidate, key) for candidate in offered for key in self.keys]
        return Verdict.OK if any(matches) else Verdict.WRONG
