"""The worker roles the CLI knows; the Helm chart deploys exactly these (tested)."""

from __future__ import annotations

ROLES: tuple[str, ...] = (
    "market_data",
    "strategy",
    "risk",
    "execution",
    "kill_switch",
    "signals",
    "reconciliation",
    "sink",
)


def parse_roles(spec: str) -> tuple[str, ...]:
    """``"a,b"`` or ``"all"`` to a tuple of known roles; unknown names raise ``ValueError`` naming them."""
    if spec.strip() == "all":
        return ROLES
    names = tuple(dict.fromkeys(p.strip() for p in spec.split(",") if p.strip()))
    unknown = [n for n in names if n not in ROLES]
    if unknown or not names:
        raise ValueError(f"unknown role(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ROLES)} or 'all'")
    return names
