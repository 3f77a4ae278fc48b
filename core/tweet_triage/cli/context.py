"""What every command gets from the entry point: the settings (built once, lazily) and a console."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from rich.console import Console

from tweet_triage.settings import Settings, load_settings


@dataclass
class CliContext:
    console: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True))
    _settings: Settings | None = None

    def emit(self, text: str) -> None:
        """Print machine-readable output (JSON) exactly: no rich markup (a tweet's "[...]" stays), no highlighting,
        no wrapping."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


def cli_context(ctx: typer.Context) -> CliContext:
    """The CliContext the root callback stored (or a fresh one when a sub-app is invoked on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
    return root.obj
