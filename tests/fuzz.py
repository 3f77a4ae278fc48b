"""Property-based requests from a served OpenAPI schema (schemathesis), without its pytest plugin.

Each operation's strategy is drawn by Hypothesis directly, so the same helper runs against fakes and the real model.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

# schemathesis' default of 10 s is a failure; the check is for 5xx and schema conformance, and on a loaded 2-core CI
# machine a read of the real store (GET /v1/review) once took longer.
REQUEST_TIMEOUT_S = 60


def fuzz_asgi_app(app: Any, *, headers: list[dict[str, str]], max_examples: int) -> list[str]:
    """Send generated requests to every operation; return the operations exercised (a failed check raises)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    exercised = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises its InvalidSchema here

        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            for extra in headers:
                case.call_and_validate(
                    headers=extra, checks=[not_a_server_error, response_schema_conformance], timeout=REQUEST_TIMEOUT_S
                )

        check()
        exercised.append(f"{operation.method.upper()} {operation.path}")
    return exercised
