"""The Bicep infrastructure validates offline, and the validation catches what it claims to."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tweet_triage.deploy.bicep_tree import body_of
from tweet_triage.deploy.infra import INFRA_DIR, check_infra, parse

pytest.importorskip("pycep")


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA_DIR, copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_infrastructure_validates() -> None:
    report = check_infra()
    assert report.ok, report.problems
    names = {p.name for p in report.files}
    assert {"main.bicep", "eventhubs.bicep", "cosmos.bicep", "machinelearning.bicep", "keyvault.bicep"} <= names
    assert {"staging.parameters.json", "production.parameters.json"} <= names


def test_resources_cover_the_system() -> None:
    modules = {p.stem: parse(p) for p in (INFRA_DIR / "modules").glob("*.bicep")}
    types = {r["type"] for tree in modules.values() for r in tree.get("resources", {}).values()}
    assert {
        "Microsoft.EventHub/namespaces",
        "Microsoft.EventHub/namespaces/eventhubs",
        "Microsoft.EventHub/namespaces/eventhubs/consumergroups",
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers",
        "Microsoft.MachineLearningServices/workspaces",
        "Microsoft.KeyVault/vaults",
        "Microsoft.KeyVault/vaults/secrets",
        "Microsoft.App/containerApps",
    } <= types
    main = parse(INFRA_DIR / "main.bicep")
    assert "Microsoft.ManagedIdentity/userAssignedIdentities" in {r["type"] for r in main["resources"].values()}
    # TTL where it makes sense: shadow results and alerts expire, predictions and feedback do not by default
    containers = {c["name"]: c["defaultTtl"] for c in modules["cosmos"]["variables"]["containers"]["value"]}
    assert containers["shadow"] == "shadowTtlSeconds" and containers["alerts"] == "alertTtlSeconds"


def test_no_secret_is_a_parameter_or_an_output() -> None:
    """Keys go from the resources straight into Key Vault; nothing secret passes through parameters or outputs."""
    secretive = ("key", "secret", "password", "connection")
    for path in INFRA_DIR.rglob("*.bicep"):
        tree = parse(path)
        for section in ("parameters", "outputs"):
            for name in tree.get(section, {}):
                words = name.lower().replace("keyvault", "")
                assert not any(word in words for word in secretive), f"{path.name}: {section[:-1]} {name}"
        assert "listkeys" not in str(tree.get("outputs", {})).lower()
        for symbol, resource in tree.get("resources", {}).items():
            if "listKeys" in str(resource):  # into Key Vault, or Log Analytics' key into the Container Apps env
                assert resource["type"] in (
                    "Microsoft.KeyVault/vaults/secrets",
                    "Microsoft.App/managedEnvironments",
                ), f"{path.name}: {symbol} reads keys"


def test_a_syntax_error_is_reported(infra: Path) -> None:
    _edit(infra / "modules" / "cosmos.bicep", "kind: 'GlobalDocumentDB'", "kind: ")
    report = check_infra(infra)
    assert any("cosmos.bicep: does not parse" in p for p in report.problems), report.problems


def test_module_parameters_and_outputs_are_checked(infra: Path) -> None:
    _edit(infra / "main.bicep", "    partitionCount: partitionCount\n", "    partitions: partitionCount\n")
    _edit(infra / "main.bicep", "keyVault.outputs.name\noutput", "keyVault.outputs.vaultName\noutput")
    problems = check_infra(infra).problems
    assert any("undeclared parameter(s) ['partitions']" in p for p in problems), problems
    assert any("required parameter(s) ['partitionCount']" in p for p in problems), problems
    assert any("keyVault.outputs.vaultName" in p for p in problems), problems


def test_parameter_files_are_checked_against_the_declarations(infra: Path) -> None:
    path = infra / "parameters" / "production.parameters.json"
    data = json.loads(path.read_text())
    data["parameters"]["environment"]["value"] = "prod"
    data["parameters"]["messageRetentionInDays"]["value"] = 30
    data["parameters"]["colour"] = {"value": "blue"}
    path.write_text(json.dumps(data))
    problems = check_infra(infra).problems
    assert any("'prod' is not one of" in p for p in problems), problems
    assert any("messageRetentionInDays: 30 > @maxValue(7)" in p for p in problems), problems
    assert any("colour is not a parameter" in p for p in problems), problems


def test_partition_keys_must_match_the_code(infra: Path) -> None:
    _edit(
        infra / "modules" / "cosmos.bicep", "partitionKey: '/tweet_id' // one item", "partitionKey: '/id' // one item"
    )
    problems = check_infra(infra).problems
    assert any("differ from store/cosmos.py" in p for p in problems), problems


def test_hubs_must_match_the_topics(infra: Path) -> None:
    _edit(infra / "modules" / "eventhubs.bicep", "name: 'tweets-dlq'", "name: 'tweets-deadletters'")
    problems = check_infra(infra).problems
    assert any("differ from the Kafka topics" in p for p in problems), problems


def test_workers_never_outnumber_partitions() -> None:
    for environment in ("staging", "production"):
        path = INFRA_DIR / "parameters" / f"{environment}.parameters.json"
        values = {k: v["value"] for k, v in json.loads(path.read_text())["parameters"].items()}
        assert values["environment"] == environment
        assert values["workerReplicas"] <= values["partitionCount"], environment


# ---- access: nothing open to more than it needs ------------------------------------------------------------------


def test_the_dashboard_is_public_only_behind_entra_id_and_the_api_is_internal() -> None:
    apps = parse(INFRA_DIR / "modules" / "containerapps.bicep")["resources"]
    _, dashboard = body_of(apps["dashboard"])
    assert dashboard["properties"]["configuration"]["ingress"]["external"] == "dashboardSignIn"
    condition, auth = body_of(apps["dashboardAuth"])
    assert apps["dashboardAuth"]["type"] == "Microsoft.App/containerApps/authConfigs"
    assert condition == "dashboardSignIn" and auth["parent"] == "dashboard"
    assert auth["properties"]["globalValidation"]["unauthenticatedClientAction"] == "RedirectToLoginPage"
    assert auth["properties"]["identityProviders"]["azureActiveDirectory"]["enabled"] is True
    _, api = body_of(apps["api"])
    assert api["properties"]["configuration"]["ingress"]["external"] is False


def test_event_hub_rights_are_per_hub_and_per_process() -> None:
    tree = parse(INFRA_DIR / "modules" / "eventhubs.bicep")
    types = [r["type"] for r in tree["resources"].values()]
    assert "Microsoft.EventHub/namespaces/authorizationRules" not in types, "no namespace-wide rule"
    hubs = {h["name"]: h for h in tree["variables"]["hubs"]["value"]}
    assert hubs["tweets-feedback"]["senders"] == ["api"]
    assert hubs["tweets"]["receivers"] == ["worker", "shadow"] and hubs["tweets"]["senders"] == []
    assert hubs["tweets-scored"]["senders"] == ["worker"] and hubs["tweets-scored"]["receivers"] == ["monitor"]
    _, producers = body_of(tree["resources"]["producersRule"])
    assert producers["properties"]["rights"] == ["Send"] and "/tweets/" in producers["name"]
    assert tree["resources"]["hubRoles"]["type"] == "Microsoft.Authorization/roleAssignments"


@pytest.mark.parametrize(
    ("module", "old", "new", "problem"),
    [
        (
            "containerapps.bicep",
            "external: dashboardSignIn",
            "external: true",
            "its sign-in exists under condition 'dashboardSignIn', its external ingress under 'dashboardDeployed'",
        ),
        (
            "containerapps.bicep",
            "  parent: dashboard\n",
            "  parent: monitor\n",
            "container app dashboard has external ingress without built-in authentication",
        ),
        (
            "containerapps.bicep",
            "unauthenticatedClientAction: 'RedirectToLoginPage'",
            "unauthenticatedClientAction: 'AllowAnonymous'",
            "unauthenticated callers are let through",
        ),
        (
            "containerapps.bicep",
            "external: false // only apps",
            "external: true // only apps",
            "container app api has external ingress without built-in authentication",
        ),
        (
            "containerapps.bicep",
            "name: 'TRIAGE_API__PROTECT_READS' // the azure profile's default, stated: every endpoint needs a key\n"
            "              value: 'true'",
            "name: 'TRIAGE_API__PROTECT_READS'\n              value: 'false'",
            "switches the API's read protection off",
        ),
        (
            "eventhubs.bicep",
            "    rights: [\n      'Send'\n    ]",
            "    rights: [\n      'Send'\n      'Listen'\n    ]",
            "producersRule is a hub rule with ['Listen', 'Send']",
        ),
        (
            "eventhubs.bicep",
            "      'api' // corrections only through the API",
            "      'api' // corrections only through the API\n      'worker'",
            "tweets-feedback must be writable by the API's identity only",
        ),
    ],
    ids=[
        "exposed-beyond-sign-in",
        "no-sign-in",
        "anonymous-allowed",
        "public-api",
        "reads-open",
        "two-way-key",
        "feedback-writers",
    ],
)
def test_the_access_checks_catch_what_they_claim(infra: Path, module: str, old: str, new: str, problem: str) -> None:
    _edit(infra / "modules" / module, old, new)
    problems = check_infra(infra).problems
    assert any(problem in p for p in problems), problems


def test_a_namespace_wide_rule_is_caught(infra: Path) -> None:
    path = infra / "modules" / "eventhubs.bicep"
    path.write_text(
        path.read_text()
        + "\nresource everything 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {\n"
        + "  parent: namespace\n  name: 'app'\n"
        + "  properties: {\n    rights: [\n      'Listen'\n      'Send'\n    ]\n  }\n}\n"
    )
    problems = check_infra(infra).problems
    assert any("everything is a namespace-wide rule with ['Listen', 'Send']" in p for p in problems), problems
