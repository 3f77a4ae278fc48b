"""Session resources every test process shares: built once — by whichever pytest-xdist worker needs one first, under
a file lock — and read back by the others; the controlling process stops the shared stack at the end of the run.

A plain `pytest` run is its own controller and only worker, so the same code serves both.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from filelock import FileLock

T = TypeVar("T")

SHARED_ENV = "TWEET_TRIAGE_TEST_SHARED"  # not TRIAGE_*: tests hide those from each other


def is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def create_shared_dir(config: pytest.Config) -> None:
    """Called by the controller before it starts any worker (they inherit the environment): a folder in the run's
    own temporary folder, which pytest keeps for the last few runs (logs of the shared stack's apps included)."""
    if SHARED_ENV not in os.environ:
        factory: pytest.TempPathFactory = config._tmp_path_factory  # type: ignore[attr-defined]  # pytest's own
        os.environ[SHARED_ENV] = str(factory.mktemp("shared", numbered=False))


def shared_dir() -> Path:
    return Path(os.environ[SHARED_ENV])


def forget_shared_dir() -> None:
    os.environ.pop(SHARED_ENV, None)


def once(name: str, build: Callable[[], T]) -> T:
    """``build()`` the first time any test process asks for ``name``; the same value (pickled) every other time."""
    folder = shared_dir()
    stored = folder / f"{name}.pickle"
    with FileLock(str(folder / f"{name}.lock")):
        if stored.exists():
            value: T = pickle.loads(stored.read_bytes())
            return value
        value = build()
        stored.write_bytes(pickle.dumps(value))
        return value


def built(name: str, kind: type[T]) -> T | None:
    """What :func:`once` built for ``name`` in this run, if anything (the controller's teardown reads it)."""
    stored = shared_dir() / f"{name}.pickle"
    if not stored.exists():
        return None
    value = pickle.loads(stored.read_bytes())
    assert isinstance(value, kind)
    return value
