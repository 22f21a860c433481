"""Event-time helpers shared by the pure cores. Nothing here reads the wall clock."""

from __future__ import annotations

from datetime import datetime, timezone

US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
US_PER_DAY = 86_400 * US_PER_S


def to_micros(value: datetime | int | float) -> int:
    """Microseconds since the epoch (UTC) from a decoded Avro timestamp (datetime) or an int."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds
    return int(value)


def from_micros(us: int) -> datetime:
    """A UTC datetime from microseconds since the epoch."""
    return datetime.fromtimestamp(us // US_PER_S, tz=timezone.utc).replace(microsecond=us % US_PER_S)


def utc_day(us: int) -> int:
    """UTC day number (days since the epoch) of a microsecond timestamp."""
    return us // US_PER_DAY


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
