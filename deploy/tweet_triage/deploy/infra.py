"""Offline checks of the Bicep infrastructure in ``deploy/infra`` (no Azure, no bicep CLI needed).

The Bicep compiler is a .NET binary that no reachable registry ships, so the checks are: every file parses with
``pycep-parser`` (a Python implementation of the Bicep grammar), modules exist and get exactly the parameters they
declare, ``MODULE.outputs.NAME`` references exist, each environment's parameter file gives every required parameter
a value that satisfies its decorators, and the resources agree with the code: Cosmos DB containers and partition keys
with ``store/cosmos.py``, event hubs with the Kafka topic settings, the ML compute with ``AzureMlSettings``; and
that nothing is open to more than it needs (:mod:`tweet_triage.deploy.infra_access`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from tweet_triage.deploy.bicep_tree import objects_in
from tweet_triage.deploy.infra_access import check_access
from tweet_triage.errors import UsageError
from tweet_triage.settings import AzureMlSettings, CosmosSettings, KafkaSettings
from tweet_triage.store.cosmos import container_specs

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"  # deploy/infra in a source checkout
MAIN = "main.bicep"
ENVIRONMENTS = ("staging", "production")
# Given on the command line at deploy time (differs per tenant; see docs/deployment.md), not in parameter files.
DEPLOY_TIME_PARAMETERS = frozenset({"operatorsObjectId"})


@dataclass
class InfraReport:
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse(path: Path) -> dict[str, Any]:
    try:
        from pycep import BicepParser
    except ImportError:
        raise UsageError("pycep-parser is not installed: pip install -c constraints.txt -e '.[dev]'") from None
    return cast(dict[str, Any], BicepParser().parse(file_path=path))


def _decorators(declaration: dict[str, Any]) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in declaration.get("decorators", [])}


def check_value(name: str, declaration: dict[str, Any], value: Any) -> list[str]:
    """Problems of ``value`` against a parameter declaration's type and decorators."""
    kind, rules = declaration.get("type"), _decorators(declaration)
    expected = {"string": str, "int": int, "bool": bool, "object": dict, "array": list}.get(str(kind))
    if expected is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
        return [f"{name}: {value!r} is not a {kind}"]
    problems = []
    if "allowed" in rules and value not in rules["allowed"]:
        problems.append(f"{name}: {value!r} is not one of {rules['allowed']}")
    if "min_value" in rules and value < rules["min_value"]:
        problems.append(f"{name}: {value} < @minValue({rules['min_value']})")
    if "max_value" in rules and value > rules["max_value"]:
        problems.append(f"{name}: {value} > @maxValue({rules['max_value']})")
    if "min_length" in rules and len(value) < rules["min_length"]:
        problems.append(f"{name}: shorter than @minLength({rules['min_length']})")
    if "max_length" in rules and len(value) > rules["max_length"]:
        problems.append(f"{name}: longer than @maxLength({rules['max_length']})")
    return problems


def _accessors(node: Any) -> Iterator[list[str]]:
    """Every ``a.b.c`` property-access chain in a parsed expression, as ``["a", "b", "c"]``."""
    for found in objects_in(node):
        operator = found.get("operator")
        if isinstance(operator, dict) and operator.get("type") == "property_accessor":
            chain = _chain(operator)
            if chain:
                yield chain


def _chain(operator: dict[str, Any]) -> list[str]:
    operands = operator.get("operands", {})
    first, rest = operands.get("operand_1"), operands.get("operand_2")
    if not isinstance(first, str):
        return []
    if isinstance(rest, str):
        return [first, rest]
    if isinstance(rest, dict) and isinstance(rest.get("operator"), dict):
        tail = _chain(rest["operator"])
        return [first, *tail] if tail else []
    return []


def check_modules(main_path: Path, main: dict[str, Any], modules: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for symbol, module in main.get("modules", {}).items():
        path = main_path.parent / module["detail"]["path"]
        declared = modules.get(symbol)
        if declared is None:
            problems.append(f"module {symbol}: {path} does not exist")
            continue
        given = set(module["config"].get("params", {}))
        parameters = declared.get("parameters", {})
        unknown = given - set(parameters)
        missing = {n for n, d in parameters.items() if d.get("default") is None and n not in given}
        if unknown:
            problems.append(f"module {symbol}: passes undeclared parameter(s) {sorted(unknown)}")
        if missing:
            problems.append(f"module {symbol}: required parameter(s) {sorted(missing)} not given")
    for chain in _accessors([main.get("modules", {}), main.get("outputs", {})]):
        if len(chain) >= 3 and chain[1] == "outputs" and chain[0] in modules:
            outputs = modules[chain[0]].get("outputs", {})
            if chain[2] not in outputs:
                problems.append(f"{chain[0]}.outputs.{chain[2]}: the module has no such output")
    return problems


def check_parameter_file(path: Path, main: dict[str, Any]) -> list[str]:
    try:
        values = {k: v["value"] for k, v in json.loads(path.read_text(encoding="utf-8"))["parameters"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{path.name}: not a deployment parameters file ({exc})"]
    declared = main.get("parameters", {})
    problems = [f"{path.name}: {name} is not a parameter of {MAIN}" for name in values if name not in declared]
    for name, declaration in declared.items():
        if name in values:
            problems += [f"{path.name}: {p}" for p in check_value(name, declaration, values[name])]
        elif declaration.get("default") is None and name not in DEPLOY_TIME_PARAMETERS:
            problems.append(f"{path.name}: required parameter {name} has no value")
    return problems


def _variable(tree: dict[str, Any], name: str) -> Any:
    return tree.get("variables", {}).get(name, {}).get("value")


def check_against_code(modules: dict[str, dict[str, Any]]) -> list[str]:
    """The infrastructure names what the code uses: containers and keys, topics, compute."""
    problems = []
    containers = {c["name"]: c["partitionKey"] for c in _variable(modules.get("cosmos", {}), "containers") or []}
    expected = {spec.name: spec.partition_key for spec in container_specs(CosmosSettings()).values()}
    if containers != expected:
        problems.append(f"cosmos containers {containers} differ from store/cosmos.py {expected}")
    hubs = {h["name"]: h["consumerGroups"] for h in _variable(modules.get("eventHubs", {}), "hubs") or []}
    kafka = KafkaSettings()
    topics = {kafka.topic_tweets, kafka.topic_scored, kafka.topic_dlq, kafka.topic_feedback, kafka.topic_alerts}
    if set(hubs) != topics:
        problems.append(f"event hubs {sorted(hubs)} differ from the Kafka topics {sorted(topics)}")
    if kafka.consumer_group not in hubs.get(kafka.topic_tweets, []):
        problems.append(f"hub {kafka.topic_tweets} has no consumer group {kafka.consumer_group}")
    compute = modules.get("machineLearning", {}).get("resources", {}).get("cluster", {}).get("config", {})
    if compute.get("name") != AzureMlSettings().compute:
        problems.append(f"ML compute {compute.get('name')!r} is not AzureMlSettings.compute")
    return problems


def check_infra(root: Path = INFRA_DIR) -> InfraReport:
    report = InfraReport()
    main_path = root / MAIN
    if not main_path.is_file():
        raise UsageError(f"{main_path} does not exist")
    trees: dict[Path, dict[str, Any]] = {}
    for path in sorted(root.rglob("*.bicep")):
        report.files.append(path)
        try:
            trees[path] = parse(path)
        except Exception as exc:  # lark raises several error types; each one is a finding
            report.problems.append(f"{path.relative_to(root)}: does not parse: {str(exc).splitlines()[0]}")
    if report.problems or main_path not in trees:
        return report
    main = trees[main_path]
    modules = {
        symbol: trees.get(main_path.parent / module["detail"]["path"], {})
        for symbol, module in main.get("modules", {}).items()
        if (main_path.parent / module["detail"]["path"]) in trees
    }
    report.problems += check_modules(main_path, main, modules)
    for environment in ENVIRONMENTS:
        path = root / "parameters" / f"{environment}.parameters.json"
        report.files.append(path)
        if not path.is_file():
            report.problems.append(f"no parameter file for {environment}: {path}")
            continue
        report.problems += check_parameter_file(path, main)
    report.problems += check_against_code(modules)
    report.problems += check_access(modules)
    return report
