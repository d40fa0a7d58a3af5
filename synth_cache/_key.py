"""Content addressing: the key hashes the canonical design with the flow and tool version."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

KEY_VERSION = 1


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, floats normalised (no NaN/inf)."""
    return json.dumps(_normalise(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _normalise(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _normalise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_normalise(v) for v in obj]
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError("designs may not contain NaN or infinity")
        return int(obj) if obj.is_integer() else float(repr(obj))
    return obj


def design_key(design: dict[str, Any], flow: str, tool_version: str) -> str:
    """24 hex digits of SHA-256 over (key version, flow, tool version, canonical design)."""
    doc = canonical(
        {"v": KEY_VERSION, "flow": flow, "tool_version": tool_version, "design": design}
    )
    return hashlib.sha256(doc.encode()).hexdigest()[:24]
