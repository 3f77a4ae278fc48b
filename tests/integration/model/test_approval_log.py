"""The approval log on the real local MLflow: chained records, tampering found by `--verify`, compare-and-set
promotions, registry errors that stay errors."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.integration.model.conftest import BareModel
from tweet_triage.errors import RegistryUnavailable
from tweet_triage.model.approval_chain import verify_chain
from tweet_triage.model.approvals import Action, ApprovalConflict, ApprovalLog
from tweet_triage.model.registry import PRODUCTION, ModelVersion, Registry
from tweet_triage.settings import Settings, load_settings
from tweet_triage.training.promotion import PromotionRefused, bootstrap, promote, rollback

pytestmark = pytest.mark.integration


def verify(model: BareModel) -> Any:
    production = model.registry.find(PRODUCTION)
    return verify_chain(model.log.entries(), model.log.anchors(), production.version if production else None)


def test_promotions_and_rollbacks_form_a_verified_chain(model: BareModel) -> None:
    v1, v2, v3 = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    promote(model.registry, model.log, version=v2, approver="ben", reason="better")
    back = rollback(model.registry, model.log, approver="cy", reason="v2 mislabels floods")
    assert (back.action, back.version, back.replaced_version) == (Action.ROLLBACK, v1, v2)

    records = model.log.history()
    assert [(r.seq, r.action, r.version, r.replaced_version) for r in records] == [
        (1, Action.PROMOTE, v1, None),
        (2, Action.PROMOTE, v2, v1),
        (3, Action.ROLLBACK, v1, v2),
    ]
    assert records[0].prev_hash == "" and records[1].prev_hash == records[0].hash
    assert sorted(model.log.anchors()) == [1, 2, 3]
    report = verify(model)
    assert report.ok, report.problems
    result = model.cli("model", "approvals", "--verify")
    assert result.returncode == 0, result.stderr
    assert "the approval log is intact" in result.stdout and "3 chained record(s)" in result.stdout
    assert model.registry.get(PRODUCTION).version == v1 and v3 not in result.stdout.split("production v")[-1][:2]


def test_deleting_one_approval_run_is_named_by_verify(model: BareModel) -> None:
    v1, v2, _ = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    promote(model.registry, model.log, version=v2, approver="ben", reason="better")
    promote(model.registry, model.log, version=model.versions[2], approver="cy", reason="best")
    [second] = [e for e in model.log.entries() if e.seq == 2]
    model.registry.client.delete_run(second.run_id)

    result = model.cli("model", "approvals", "--verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"record #2 (run {second.run_id}, promote v{v2} by ben) was deleted" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    listing = model.cli("model", "approvals")
    assert listing.returncode == 0 and "promote (deleted)" in listing.stdout  # history includes deleted runs


def test_editing_one_approval_run_is_named_by_verify(model: BareModel) -> None:
    v1, v2, _ = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    promote(model.registry, model.log, version=v2, approver="ben", reason="better")
    [first] = [e for e in model.log.entries() if e.seq == 1]
    model.registry.client.set_tag(first.run_id, "approval.approver", "the CTO")  # re-tagged after the fact

    result = model.cli("model", "approvals", "--verify")
    assert result.returncode == 1, result.stdout + result.stderr
    stderr = " ".join(result.stderr.split())
    assert f"record #1 (run {first.run_id}, promote v{v1} by the CTO) was altered" in stderr


def test_a_move_with_a_plain_mlflow_client_fails_verification(model: BareModel) -> None:
    v1, v2, _ = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    model.registry.client.set_registered_model_alias(model.registry.name, PRODUCTION, v2)
    result = model.cli("model", "approvals", "--verify")
    assert result.returncode == 1
    assert f"production points at v{v2}, but the last approval (#1 promote v{v1} by ana)" in " ".join(
        result.stderr.split()
    )


class BarrierRegistry(Registry):
    """Every thread stops at the barrier right after it first read where production points."""

    def __init__(self, settings: Settings, barrier: threading.Barrier) -> None:
        super().__init__(settings)
        self._barrier = barrier
        self._passed = threading.local()

    def find(self, ref: str) -> ModelVersion | None:
        found = super().find(ref)
        if ref == PRODUCTION and not getattr(self._passed, "done", False):
            self._passed.done = True
            self._barrier.wait(timeout=30)
        return found


def test_two_racing_promotions_one_succeeds_and_log_and_alias_agree(model: BareModel) -> None:
    v1, v2, v3 = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def race(version: str) -> None:
        registry = BarrierRegistry(model.settings, barrier)
        try:
            outcomes[version] = promote(
                registry, ApprovalLog.beside(registry), version=version, approver=version, reason="race"
            )
        except Exception as exc:
            outcomes[version] = exc

    threads = [threading.Thread(target=race, args=(v,)) for v in (v2, v3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    winners = [v for v, outcome in outcomes.items() if not isinstance(outcome, Exception)]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, Exception)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], ApprovalConflict), repr(losers[0])
    assert "production changed while this promote was decided" in str(losers[0])
    [winner] = winners
    assert model.registry.get(PRODUCTION).version == winner
    head = model.log.production_head()
    assert head is not None and (head.seq, head.version, head.replaced_version) == (2, winner, v1)
    assert verify(model).ok
    assert model.registry.client.search_registered_models(f"name = '{model.log.lock_name}'") == []  # lock released


def test_a_record_that_cannot_be_written_puts_the_alias_back(model: BareModel, monkeypatch: pytest.MonkeyPatch) -> None:
    v1, v2, _ = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")

    def broken(record: object) -> None:
        raise RegistryUnavailable("MLflow went away while writing the record")

    monkeypatch.setattr(model.log, "_write", broken)
    with pytest.raises(RegistryUnavailable, match="went away"):
        promote(model.registry, model.log, version=v2, approver="ben", reason="better")
    assert model.registry.get(PRODUCTION).version == v1, "no move without a record"
    monkeypatch.undo()
    assert [r.version for r in model.log.history()] == [v1] and verify(model).ok


def test_approving_a_move_made_by_hand_records_it_as_such(model: BareModel) -> None:
    v1, v2, _ = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    model.registry.client.set_registered_model_alias(model.registry.name, PRODUCTION, v2)
    with pytest.raises(PromotionRefused, match="rollback"):
        promote(model.registry, model.log, version=v1, approver="ana", reason="again")
    record = promote(model.registry, model.log, version=v2, approver="ben", reason="the hotfix was right")
    assert (record.version, record.replaced_version, record.alias_before) == (v2, v1, v2)
    report = verify(model)
    assert report.ok and any("resolved a move nobody approved" in note for note in report.notes)


def test_rollback_after_an_unapproved_move_restores_the_approved_version(model: BareModel) -> None:
    v1, v2, v3 = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    promote(model.registry, model.log, version=v2, approver="ben", reason="better")
    model.registry.client.set_registered_model_alias(model.registry.name, PRODUCTION, v3)
    back = rollback(model.registry, model.log, approver="cy", reason="nobody approved v3")
    assert back.version == v2 and back.alias_before == v3
    assert model.registry.get(PRODUCTION).version == v2 and verify(model).ok


def test_a_held_lock_makes_the_second_writer_wait_then_give_up_and_a_stale_one_is_broken(
    model: BareModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, _, _ = model.versions
    monkeypatch.setattr(ApprovalLog, "LOCK_TIMEOUT_S", 1.0)
    with model.log.transaction(holder="someone else"), pytest.raises(ApprovalConflict, match="someone else"):
        promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    assert model.registry.find(PRODUCTION) is None
    stale = ApprovalLog(model.registry.client, model.registry.name, clock=lambda: 0.0)
    stale._acquire("a crashed process")  # left behind, timestamped 1970
    record = promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    assert record.seq == 1 and model.registry.get(PRODUCTION).version == v1


def test_registry_errors_are_errors_never_no_production(local_stack: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    dead = load_settings(mlflow={"tracking_uri": "http://127.0.0.1:9", "model_name": "m"})
    registry = Registry(dead)
    log = ApprovalLog.beside(registry)
    with pytest.raises(RegistryUnavailable, match="cannot read alias 'production'"):
        registry.find(PRODUCTION)
    with pytest.raises(RegistryUnavailable):
        bootstrap(registry, log, version="1")
    with pytest.raises(RegistryUnavailable):
        log.production_head()
