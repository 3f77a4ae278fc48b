"""Microsoft Entra ID sign-in to Event Hubs, so each process holds only its own identity's rights on each hub.

With ``TRIAGE_KAFKA__EVENTHUBS_NAMESPACE`` set and no connection string, Kafka clients authenticate with SASL
OAUTHBEARER: the token is an Entra access token for ``https://NAMESPACE/.default`` from the process's managed
identity (``TRIAGE_KAFKA__IDENTITY_CLIENT_ID`` picks one when several are attached). What the identity may do is
Azure RBAC on each hub — *Azure Event Hubs Data Receiver* / *Data Sender* — which the Bicep grants per app
(deploy/infra/modules/eventhubs.bicep): the worker reads ``tweets`` and writes ``tweets-scored`` and ``tweets-dlq``,
the API only writes ``tweets-feedback``, and so on. No shared key can send and listen everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.abc import AbstractTokenProvider
from azure.identity import DefaultAzureCredential

from tweet_triage.errors import TriageError
from tweet_triage.settings import Settings, env_name

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 300.0  # fetch a new token five minutes before the cached one expires


class EntraSignInError(TriageError):
    """No Entra ID token for Event Hubs could be obtained; the message says which identity was tried."""


class TokenCredential(Protocol):
    """The part of ``azure.identity.DefaultAzureCredential`` used here (faked in tests)."""

    def get_token(self, *scopes: str) -> Any: ...


@dataclass(frozen=True)
class _Cached:
    token: str
    expires_on: float


def default_credential(client_id: str | None) -> TokenCredential:
    credential: TokenCredential = DefaultAzureCredential(managed_identity_client_id=client_id)
    return credential


class EventHubsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """aiokafka's OAUTHBEARER callback: a cached Entra access token for the namespace, refreshed before expiry."""

    def __init__(
        self,
        namespace: str,
        *,
        client_id: str | None = None,
        credential: TokenCredential | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scope = f"https://{namespace}/.default"
        self._client_id = client_id
        self._credential = credential
        self._clock = clock
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        cached = self._cached
        if cached is not None and cached.expires_on - REFRESH_MARGIN_S > self._clock():
            return cached.token
        async with self._lock:
            cached = self._cached
            if cached is None or cached.expires_on - REFRESH_MARGIN_S <= self._clock():
                cached = await asyncio.to_thread(self._fetch)
                self._cached = cached
        return cached.token

    def _fetch(self) -> _Cached:
        if self._credential is None:
            self._credential = default_credential(self._client_id)
        try:
            access = self._credential.get_token(self.scope)
        except Exception as exc:  # azure-identity raises several types; each means "no token"
            identity = f"managed identity {self._client_id}" if self._client_id else "DefaultAzureCredential"
            raise EntraSignInError(
                f"no Entra ID token for {self.scope} from {identity}: {type(exc).__name__}: {exc} (set "
                f"{env_name(('kafka', 'identity_client_id'))} to the identity granted the hub roles, or use "
                f"{env_name(('kafka', 'eventhubs_connection_string'))})"
            ) from exc
        log.debug("Entra ID token for %s, valid until %.0f", self.scope, access.expires_on)
        return _Cached(str(access.token), float(access.expires_on))


def token_provider(settings: Settings) -> EventHubsTokenProvider:
    namespace = settings.kafka.eventhubs_namespace
    if namespace is None:
        raise EntraSignInError(f"{env_name(('kafka', 'eventhubs_namespace'))} is not set")
    return EventHubsTokenProvider(namespace, client_id=settings.kafka.identity_client_id)
