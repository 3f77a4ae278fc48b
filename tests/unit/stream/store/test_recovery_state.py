"""The recovery record: what status and the dashboard say, and that only a finished recovery allows snapshots."""

from __future__ import annotations

from pathlib import Path

from tweet_triage.settings import load_settings
from tweet_triage.store.recovery import RecoveryState, read_state, ready_for_snapshot, write_state


def test_progress_is_said_in_plain_words() -> None:
    assert RecoveryState("restoring", 1.0, "predictions", 3000, 7613).describe() == (
        "restoring the snapshot: predictions 3,000 of 7,613 items"
    )
    assert (
        "rebuilding from the topics: tweets-scored 10 of at least 40"
        in RecoveryState("rebuilding", 1.0, "tweets-scored", 10, 40).describe()
    )


def test_snapshots_only_of_the_server_whose_recovery_finished(tmp_path: Path) -> None:
    settings = load_settings(stack={"state_dir": tmp_path})
    assert not ready_for_snapshot(settings, 100.0)  # never recovered
    write_state(settings, RecoveryState("restoring", 100.0, "predictions", 1, 10))
    assert not ready_for_snapshot(settings, 100.0)
    write_state(settings, RecoveryState("ready", 100.0, detail="restored"))
    assert ready_for_snapshot(settings, 100.0)
    assert not ready_for_snapshot(settings, 200.0)  # another server process (restarted behind our back)
    state = read_state(settings)
    assert state is not None and state.phase == "ready" and state.updated_at
