"""Deterministic event ids: the same cause always yields the same id, so effects are idempotent."""

from __future__ import annotations

from hashlib import blake2b


def make_id(kind: str, *parts: object) -> str:
    """An id like ``book-3f2a...`` derived only from ``kind`` and ``parts`` (never from time or randomness)."""
    h = blake2b("\x1f".join(str(p) for p in parts).encode("utf-8"), digest_size=10).hexdigest()
    return f"{kind}-{h}"
