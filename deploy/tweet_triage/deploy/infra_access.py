"""Offline checks that nothing in the Bicep is open to more than it needs (called by :func:`check_infra`).

* **Ingress.** A container app with external ingress must have a built-in authentication config
  (``Microsoft.App/containerApps/authConfigs``) that exists under the same condition as the exposure, turns the
  platform on, sends unauthenticated callers to the sign-in (or refuses them) and enables an identity provider.
  Internal ingress (``external: false``) needs none.
* **Event Hubs.** No namespace-wide authorization rule that can both send and listen (or manage), no hub rule that
  does both, no role assignment on the whole namespace; the feedback hub is writable by the API's identity only.
* **Reads.** No container switches the API's read protection off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tweet_triage.deploy.bicep_tree import body_of, objects_in

CONTAINER_APP = "Microsoft.App/containerApps"
AUTH_CONFIG = "Microsoft.App/containerApps/authConfigs"
NAMESPACE_RULE = "Microsoft.EventHub/namespaces/authorizationRules"
HUB_RULE = "Microsoft.EventHub/namespaces/eventhubs/authorizationRules"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
SIGN_IN_ACTIONS = frozenset({"RedirectToLoginPage", "Return401", "Return403"})
FEEDBACK_HUB = "tweets-feedback"


def resources(modules: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for module, tree in modules.items():
        for symbol, resource in tree.get("resources", {}).items():
            yield module, symbol, resource


def check_ingress(modules: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for module, tree in modules.items():
        found = tree.get("resources", {})
        sign_ins = {body_of(r)[1].get("parent"): body_of(r) for r in found.values() if r.get("type") == AUTH_CONFIG}
        for symbol, resource in found.items():
            if resource.get("type") != CONTAINER_APP:
                continue
            condition, body = body_of(resource)
            ingress = body.get("properties", {}).get("configuration", {}).get("ingress") or {}
            external = ingress.get("external", False)
            if external is False:
                continue
            where = f"{module}: container app {symbol}"
            if symbol not in sign_ins:
                problems.append(f"{where} has external ingress without built-in authentication (authConfigs)")
                continue
            auth_condition, auth = sign_ins[symbol]
            exposure = condition if external is True else external
            if auth_condition != exposure:
                problems.append(
                    f"{where}: its sign-in exists under condition {auth_condition!r}, its external ingress under "
                    f"{exposure!r}; they must be the same"
                )
            problems += [f"{where}: {p}" for p in _sign_in_problems(auth.get("properties", {}))]
    return problems


def _sign_in_problems(properties: dict[str, Any]) -> list[str]:
    problems = []
    if properties.get("platform", {}).get("enabled") is not True:
        problems.append("built-in authentication is not enabled (platform.enabled)")
    action = properties.get("globalValidation", {}).get("unauthenticatedClientAction")
    if action not in SIGN_IN_ACTIONS:
        problems.append(f"unauthenticated callers are let through (unauthenticatedClientAction {action!r})")
    providers = properties.get("identityProviders", {})
    if not any(isinstance(p, dict) and p.get("enabled") is True for p in providers.values()):
        problems.append("no identity provider is enabled")
    return problems


def check_event_hubs(modules: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for module, symbol, resource in resources(modules):
        kind = resource.get("type")
        _, body = body_of(resource)
        rights = set(body.get("properties", {}).get("rights", []))
        if kind == NAMESPACE_RULE and ("Manage" in rights or {"Send", "Listen"} <= rights):
            problems.append(
                f"{module}: {symbol} is a namespace-wide rule with {sorted(rights)}: one key that sends and listens "
                "on every hub"
            )
        if kind == HUB_RULE and ("Manage" in rights or {"Send", "Listen"} <= rights):
            problems.append(f"{module}: {symbol} is a hub rule with {sorted(rights)}; give each key one direction")
        if kind == ROLE_ASSIGNMENT and module == "eventHubs" and body.get("scope") == "namespace":
            problems.append(f"{module}: {symbol} grants a role on the whole namespace; grant it per hub")
    hubs = {
        h.get("name"): h for h in (modules.get("eventHubs", {}).get("variables", {}).get("hubs", {}).get("value") or [])
    }
    feedback = hubs.get(FEEDBACK_HUB)
    if feedback is not None and feedback.get("senders") != ["api"]:
        problems.append(
            f"eventHubs: {FEEDBACK_HUB} must be writable by the API's identity only, not {feedback.get('senders')}"
        )
    return problems


def check_read_protection(modules: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for module, symbol, resource in resources(modules):
        if resource.get("type") != CONTAINER_APP:
            continue
        for entry in _env_entries(body_of(resource)[1]):
            if entry.get("name") == "TRIAGE_API__PROTECT_READS" and str(entry.get("value")).lower() != "true":
                problems.append(f"{module}: container app {symbol} switches the API's read protection off")
    return problems


def _env_entries(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``{name, value}`` object anywhere below ``node`` (env lists may sit inside concat())."""
    return (o for o in objects_in(node) if isinstance(o.get("name"), str) and "value" in o)


def check_access(modules: dict[str, dict[str, Any]]) -> list[str]:
    return check_ingress(modules) + check_event_hubs(modules) + check_read_protection(modules)
