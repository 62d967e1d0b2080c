"""JSON the command prints: strict JSON, whatever the numbers.

``json.dumps`` writes ``Infinity`` and ``NaN`` for non-finite floats by default, which no
strict JSON reader accepts. A value that is not finite is a bug or an absurd input upstream,
but the output must still parse: it becomes ``null``, and ``allow_nan=False`` guarantees
that nothing non-finite slips through.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Indented, UTF-8 friendly, strict JSON."""
    return json.dumps(finite(value), indent=2, ensure_ascii=False, allow_nan=False)
