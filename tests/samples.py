"""Schema-valid sample records for every hbot schema, built from the schema itself.

Values are derived deterministically from a seed so each sample differs, and every field is set
(unions to their non-null branch) so a round trip really checks each column.
"""

from __future__ import annotations

from typing import Any

import schemas as schema_files


def _value(t: Any, name: str, seed: int, named: dict[str, Any]) -> Any:
    if isinstance(t, str) and t in named:
        t = named[t]
    if isinstance(t, list):
        return _value([x for x in t if x != "null"][0], name, seed, named)
    if isinstance(t, dict):
        kind = t["type"]
        if kind == "record":
            named[f"{t.get('namespace', 'hbot.v1')}.{t['name']}"] = t
            return {f["name"]: _value(f["type"], f["name"], seed + i, named) for i, f in enumerate(t["fields"])}
        if kind == "enum":
            named[f"{t.get('namespace', 'hbot.v1')}.{t['name']}"] = t
            return t["symbols"][seed % len(t["symbols"])]
        if kind == "array":
            return [_value(t["items"], name, seed + k, named) for k in range(2)]
        if kind == "map":
            return {f"k{seed}": str(_value(t["values"], name, seed, named))}
        if t.get("logicalType") in ("timestamp-micros",):
            return 1_767_225_600_000_000 + seed * 1_000_003
        return _value(kind, name, seed, named)
    return {"string": f"{name}-{seed}", "long": 1000 + seed, "int": seed, "double": 100.25 + seed / 8,
            "float": 1.5, "boolean": seed % 2 == 0, "bytes": bytes([seed % 256, 0, 255])}[t]


def sample(schema: str, seed: int = 1, overrides: dict[str, Any] | None = None,
           schema_json: dict[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid record of ``schema`` (or of ``schema_json``, e.g. a released version)."""
    js = schema_json or schema_files.load_schema_json(schema)
    rec = _value(js, "", seed, {})
    rec["event_id"] = f"{schema}-{seed}"
    rec.update(overrides or {})
    return rec
