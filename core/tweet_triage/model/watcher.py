"""Follow the `production` alias and hot-swap the predictor, for long-running scorers (stream worker, API).

Callers take :attr:`ModelWatcher.current` once per batch and use that predictor for the whole batch, so every
prediction in a batch records the one version that made it. :meth:`refresh` loads a new version completely before
swapping the reference; a version that fails to load is reported and the old one keeps serving.

Following ``production`` is gated by the approval log (:mod:`tweet_triage.model.approval_gate`): a version the alias
points at without an approval record is never loaded. The watcher keeps what it serves (or serves nothing), and once
the same unapproved target has been seen on ``confirmations`` consecutive checks — a promotion moves the alias a
moment before it writes its record — it reports the move through :attr:`unapproved` and ``on_unapproved`` (the
worker and the API raise an alert with it) until the alias points at an approved version again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tweet_triage.errors import ModelError
from tweet_triage.model.approval_gate import ApprovalGate, UnapprovedModel, gate_for
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, RegistryReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swap:
    previous: str | None
    current: str


@dataclass(frozen=True)
class UnapprovedMove:
    """An alias pointing at a version the approval log does not approve."""

    model: str
    alias: str
    target: str  # where the alias points
    serving: str | None  # what keeps serving (None: nothing)
    approved: str | None  # what the approval log says is production
    reason: str

    @property
    def summary(self) -> str:
        """What happened, without the approval records' details (names stay with authenticated readers)."""
        keeps = f"still serving v{self.serving}" if self.serving else "serving nothing"
        return f"{self.model} {self.alias} points at v{self.target}, which has no approval record; {keeps}"

    @property
    def message(self) -> str:
        keeps = f"still serving v{self.serving}" if self.serving else "serving nothing"
        return f"{self.model} {self.alias} points at v{self.target} without an approval: {self.reason}; {keeps}"


class ModelWatcher:
    def __init__(
        self,
        registry: RegistryReader,
        *,
        alias: str = PRODUCTION,
        threads: int = 2,
        on_swap: Callable[[Swap], None] | None = None,
        gate: ApprovalGate | None = None,
        on_unapproved: Callable[[UnapprovedMove], object] | None = None,
        confirmations: int = 2,
    ) -> None:
        self._registry = registry
        self._alias = alias
        self._threads = threads
        self._on_swap = on_swap
        if gate is None and alias == PRODUCTION:
            gate = gate_for(registry)
        self._gate = gate
        self._on_unapproved = on_unapproved
        self._confirmations = max(1, confirmations)
        self._current: Predictor | None = None
        self._lock = threading.Lock()  # one load at a time; readers never wait
        self._sighting: tuple[str, int] | None = None  # (unapproved target, consecutive checks)
        self._unapproved: UnapprovedMove | None = None
        self._reported: str | None = None  # the target on_unapproved was told about

    @property
    def alias(self) -> str:
        return self._alias

    @property
    def current(self) -> Predictor:
        predictor = self._current
        if predictor is None:
            raise ModelError(
                f"no {self._alias!r} model is loaded; train one and promote it (`triage train`, `triage model promote`)"
            )
        return predictor

    @property
    def ready(self) -> bool:
        """A model is loaded (it may still be an approved one the alias has since moved away from)."""
        return self._current is not None

    @property
    def unapproved(self) -> UnapprovedMove | None:
        """The confirmed move of the alias to a version without an approval record, while it lasts."""
        return self._unapproved

    @property
    def problem(self) -> str | None:
        """Why this process should not be considered ready although it may serve, in words (no approver names)."""
        move = self._unapproved
        return move.summary if move is not None else None

    def refresh(self) -> Swap | None:
        """Load the version the alias points at if it differs from the one serving. Returns the swap, if any.

        Raises :class:`UnapprovedModel` when the alias points at a version without an approval record, and the
        registry's errors as they are (never read as "no model").
        """
        refusal: str | None = None
        report: UnapprovedMove | None = None
        with self._lock:
            target = self._registry.get(self._alias)
            serving = self._current.version if self._current is not None else None
            if target.version == serving:
                self._settled()
                return None
            verdict = self._gate.check(target.version) if self._gate is not None else None
            if verdict is not None and not verdict.approved:
                move = UnapprovedMove(
                    self._registry.name, self._alias, target.version, serving, verdict.approved_version, verdict.reason
                )
                report = self._sighted(move)
                refusal = move.message if self._unapproved is not None else _unconfirmed(move)
            else:
                folder = self._registry.download(target)
                self._current = Predictor(folder, version=target.version, threads=self._threads)
                self._settled()
        if refusal is not None:
            self._report(report)
            raise UnapprovedModel(refusal)
        swap = Swap(previous=serving, current=target.version)
        log.info("model %s: now serving v%s (was %s)", self._alias, swap.current, swap.previous or "none")
        if self._on_swap is not None:
            self._on_swap(swap)
        return swap

    def try_refresh(self) -> Swap | None:
        """:meth:`refresh`, but a registry or model problem is logged and the current model keeps serving."""
        try:
            return self.refresh()
        except UnapprovedModel as exc:
            log.warning("%s", exc)
        except ModelError as exc:
            log.warning("model refresh failed, keeping v%s: %s", self._current.version if self._current else "-", exc)
        except Exception:
            log.exception("model refresh failed unexpectedly; keeping the current model")
        return None

    # ---- unapproved targets -------------------------------------------------------------------------------------

    def _sighted(self, move: UnapprovedMove) -> UnapprovedMove | None:
        """Count one more check that found ``move``; the move to report once it is confirmed and not yet reported."""
        count = self._sighting[1] + 1 if self._sighting is not None and self._sighting[0] == move.target else 1
        self._sighting = (move.target, count)
        if count < self._confirmations and self._unapproved is None:  # once confirmed, a new target is no blip
            return None
        self._unapproved = move
        return move if self._reported != move.target else None

    def _settled(self) -> None:
        self._sighting, self._unapproved, self._reported = None, None, None

    def _report(self, move: UnapprovedMove | None) -> None:
        if move is None or self._on_unapproved is None:
            return
        try:
            self._on_unapproved(move)
        except Exception:  # the alert is retried at the next check; serving is not affected
            log.exception("could not report the unapproved move of %s to v%s; retrying later", move.alias, move.target)
            return
        self._reported = move.target


def _unconfirmed(move: UnapprovedMove) -> str:
    keeps = f"still serving v{move.serving}" if move.serving else "serving nothing"
    return f"{move.alias} points at v{move.target}, which has no approval record (yet?); {keeps}, checking again"
