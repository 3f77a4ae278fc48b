"""Reading pycep's parse tree of a Bicep file: a resource's condition and body, and every object below a node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def body_of(resource: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``(condition, properties block)`` of a parsed resource, whether it has a condition or a loop or neither."""
    config = resource.get("config", {})
    if "loop_type" in config or "condition" in config:
        return config.get("condition"), config.get("config", {})
    return None, config


def objects_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every object (dict) at or below ``node``, parents before children."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from objects_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from objects_in(value)
