"""ModelWatcher's swap logic with a fake registry (no MLflow, no model files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from tweet_triage.errors import ModelError
from tweet_triage.model import watcher as watcher_module
from tweet_triage.model.registry import ModelVersion, Registry
from tweet_triage.model.watcher import ModelWatcher, Swap


class FakeRegistry:
    def __init__(self) -> None:
        self.alias_to: str | None = None
        self.downloads: list[str] = []

    def get(self, ref: str) -> ModelVersion:
        if self.alias_to is None:
            raise ModelError(f"no alias {ref!r}")
        return ModelVersion("m", self.alias_to, "run", (ref,), {}, 0, "")

    def download(self, version: ModelVersion) -> Path:
        self.downloads.append(version.version)
        if version.version == "broken":
            raise ModelError("package is missing model.onnx")
        return Path(f"/models/{version.version}")


class FakePredictor:
    def __init__(self, folder: Path, *, version: str, threads: int) -> None:
        self.folder, self.version = folder, version


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    monkeypatch.setattr(watcher_module, "Predictor", FakePredictor)
    return FakeRegistry()


def test_nothing_serves_until_the_alias_exists_and_then_swaps_only_on_change(fake: FakeRegistry) -> None:
    swaps: list[Swap] = []
    watcher = ModelWatcher(cast(Registry, fake), on_swap=swaps.append)
    assert not watcher.ready
    with pytest.raises(ModelError, match="no 'production' model is loaded"):
        _ = watcher.current
    assert watcher.try_refresh() is None and not watcher.ready

    fake.alias_to = "1"
    assert watcher.refresh() == Swap(previous=None, current="1")
    assert watcher.current.version == "1"
    assert watcher.refresh() is None  # same version: no reload
    assert fake.downloads == ["1"]

    fake.alias_to = "2"
    assert watcher.refresh() == Swap(previous="1", current="2")
    assert [s.current for s in swaps] == ["1", "2"]


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(fake: FakeRegistry) -> None:
    watcher = ModelWatcher(cast(Registry, fake))
    fake.alias_to = "1"
    watcher.refresh()
    fake.alias_to = "broken"
    assert watcher.try_refresh() is None
    current: Any = watcher.current
    assert current.version == "1"
