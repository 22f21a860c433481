"""The Avro contract of hbot: one ``.avsc`` per record, plus every released version.

``schemas/<name>.avsc`` is the current schema; ``schemas/released/<name>/vN.avsc`` keeps each
version that was ever released so that compatibility with data already on the topics (and in
archives) can be tested and decoded.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
RELEASED_DIR = SCHEMA_DIR / "released"
NAMESPACE = "hbot.v1"


def schema_names() -> list[str]:
    """Names of all current schemas (file stems), sorted."""
    return sorted(p.stem for p in SCHEMA_DIR.glob("*.avsc"))


@lru_cache(maxsize=None)
def load_schema_json(name: str) -> dict[str, Any]:
    """The current schema ``name`` as parsed JSON (not yet a fastavro schema)."""
    path = SCHEMA_DIR / f"{name}.avsc"
    if not path.exists():
        raise KeyError(f"no schema named {name!r}; known: {', '.join(schema_names())}")
    return json.loads(path.read_text())


def released_versions(name: str) -> list[tuple[int, dict[str, Any]]]:
    """Every released version of schema ``name`` as ``(version, json)``, oldest first."""
    folder = RELEASED_DIR / name
    out = []
    for path in folder.glob("v*.avsc"):
        out.append((int(path.stem[1:]), json.loads(path.read_text())))
    return sorted(out, key=lambda t: t[0])
