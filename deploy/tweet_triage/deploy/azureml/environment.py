"""The Azure ML environment: a conda specification pinned from ``constraints.txt``, CPU-only torch first."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from tweet_triage.deploy.azureml.source import SourceTree, dependency_closure, read_pins
from tweet_triage.errors import UsageError

if TYPE_CHECKING:
    from azure.ai.ml.entities import Environment

ENVIRONMENT_NAME = "tweet-triage"
# Azure ML's curated Ubuntu base; the conda layer on top is what we pin.
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
EXTRAS = ("train", "azure")
# Not dependencies of the package, but of how Azure ML runs it: hatchling builds the wheel from the uploaded
# source (`pip install --no-build-isolation`), the inference server hosts score.py on managed online endpoints.
RUNTIME_EXTRAS = ("hatchling", "azureml-inference-server-http")
UNPINNED_RUNTIME = {"azureml-inference-server-http": ">=1.4,<2"}
# pip-compile leaves these out of constraints.txt; the conda base provides them.
PACKAGING_TOOLS = frozenset({"pip", "setuptools", "wheel"})


def conda_specification(tree: SourceTree, extras: tuple[str, ...] = EXTRAS) -> dict[str, Any]:
    """Python 3.11 and pip: torch from the CPU index first, then every pinned dependency of tweet-triage[extras]."""
    pins = read_pins(tree.constraints)
    if "torch" not in pins:
        raise UsageError(f"{tree.constraints} does not pin torch")
    needed = dependency_closure(extras) - PACKAGING_TOOLS
    if not needed:
        raise UsageError(
            "tweet-triage is not installed in this interpreter: `make setup` (its metadata lists the deps)"
        )
    unpinned = sorted(name for name in needed if name not in pins and name != "torch")
    if unpinned:
        raise UsageError(f"{tree.constraints} has no pin for {', '.join(unpinned)}; run `make lock`")
    pip = [f"--extra-index-url {TORCH_CPU_INDEX}", f"torch=={pins['torch']}+cpu"]
    pip += [f"{name}=={pins[name]}" for name in sorted(needed) if name != "torch"]
    for name in RUNTIME_EXTRAS:
        pip.append(f"{name}=={pins[name]}" if name in pins else f"{name}{UNPINNED_RUNTIME[name]}")
    return {
        "name": ENVIRONMENT_NAME,
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11", "pip", {"pip": pip}],
    }


def build_environment(tree: SourceTree) -> Environment:
    """The environment asset; its version is a hash of the image and specification, so a change of pins is a new
    version and an unchanged one is registered once."""
    from azure.ai.ml.entities import Environment

    specification = conda_specification(tree)
    digest = hashlib.sha256(json.dumps([BASE_IMAGE, specification], sort_keys=True).encode()).hexdigest()
    return Environment(
        name=ENVIRONMENT_NAME,
        version=digest[:16],
        description="tweet-triage training and serving: pinned from constraints.txt, CPU torch.",
        image=BASE_IMAGE,
        conda_file=specification,
    )


def reference(environment: Environment) -> str:
    """``azureml:NAME:VERSION``: how components and deployments point at the registered environment."""
    return f"azureml:{environment.name}:{environment.version}"
