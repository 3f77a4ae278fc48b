from __future__ import annotations

from tests.integration.serving import api_server, serving

__all__ = ["api_server", "serving"]
