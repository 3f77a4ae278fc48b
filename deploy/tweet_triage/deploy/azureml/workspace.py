"""The only module that talks to Azure: settings check, a bounded credential check, then an ``MLClient``.

Order matters for failing fast: missing settings are reported before any credential is tried, and the credential
is given ``TRIAGE_AZUREML__CREDENTIAL_TIMEOUT_S`` at most (DefaultAzureCredential can otherwise probe for minutes).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential

from tweet_triage.errors import CloudError, SettingsError
from tweet_triage.settings import Settings, env_name

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

ARM_SCOPE = "https://management.azure.com/.default"
SERVICE_PRINCIPAL_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")


@dataclass(frozen=True)
class WorkspaceRef:
    subscription_id: str
    resource_group: str
    workspace_name: str


def workspace_ref(settings: Settings) -> WorkspaceRef:
    """The workspace coordinates, or a SettingsError naming every missing variable."""
    azureml = settings.azureml
    values = {
        "subscription_id": azureml.subscription_id,
        "resource_group": azureml.resource_group,
        "workspace_name": azureml.workspace_name,
    }
    missing = [env_name(("azureml", name)) for name, value in values.items() if not value]
    if missing:
        raise SettingsError(f"Azure ML needs {', '.join(missing)} (the workspace to use); see docs/deployment.md")
    return WorkspaceRef(**{name: str(value) for name, value in values.items()})


def credential_hint() -> str:
    """Which credential sources DefaultAzureCredential could use here, and what is missing for each."""
    missing = [name for name in SERVICE_PRINCIPAL_VARIABLES if not os.environ.get(name)]
    service_principal = (
        "service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET are set"
        if not missing
        else f"service principal: {', '.join(missing)} not set"
    )
    return (
        f"{service_principal}; workload identity (GitHub OIDC): AZURE_FEDERATED_TOKEN_FILE "
        f"{'set' if os.environ.get('AZURE_FEDERATED_TOKEN_FILE') else 'not set'}; "
        "Azure CLI: run `az login`; managed identity: only on Azure compute"
    )


def acquire_credential(timeout_s: float) -> Any:
    """A DefaultAzureCredential that has proven it can get an ARM token within ``timeout_s`` seconds."""
    credential = DefaultAzureCredential(process_timeout=max(1, int(timeout_s)))
    outcome: dict[str, BaseException | None] = {}

    def probe() -> None:
        try:
            credential.get_token(ARM_SCOPE)
            outcome["error"] = None
        except BaseException as exc:
            outcome["error"] = exc

    # A daemon thread, not an executor: a hung probe must not keep the process alive after we give up.
    thread = threading.Thread(target=probe, name="azure-credential-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if "error" not in outcome:
        raise CloudError(f"no Azure credential within {timeout_s:.0f} s ({credential_hint()})")
    error = outcome["error"]
    if isinstance(error, ClientAuthenticationError):
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CloudError(f"no usable Azure credential: {first_line} ({credential_hint()})") from None
    if error is not None:
        raise CloudError(f"Azure credential check failed: {type(error).__name__}: {error}") from None
    return credential


def ml_client(settings: Settings) -> MLClient:
    """An MLClient on the configured workspace; SettingsError/CloudError say what is missing."""
    ref = workspace_ref(settings)
    try:
        from azure.ai.ml import MLClient
    except ImportError:
        raise CloudError("azure-ai-ml is not installed: pip install 'tweet-triage[azure]'") from None
    credential = acquire_credential(settings.azureml.credential_timeout_s)
    return MLClient(credential, ref.subscription_id, ref.resource_group, ref.workspace_name)
