"""Exchange API keys split by role (rule 7): a read-only ``data`` key, a ``trade`` key, a ``kill_switch`` key.

A worker role sees exactly one key (``KEY_ROLE_OF_WORKER``) and :func:`load_key` reads only that
key's sources, never another role's variables or files: a process of one role does not touch
another role's secret even when a misconfigured deployment puts it in its environment.

Where a key comes from, first match wins (``<ROLE>`` is ``DATA``, ``TRADE`` or ``KILL_SWITCH``):

1. Environment variables ``HBOT_KEY_<ROLE>_API_KEY``, ``HBOT_KEY_<ROLE>_SECRET`` and
   ``HBOT_KEY_<ROLE>_PASSPHRASE`` (the passphrase is optional; Bitget needs one).
2. ``HBOT_<ROLE>_KEY_FILE``: the path the Helm chart sets to the mounted Secret, either a directory
   holding files ``apiKey`` / ``api_key``, ``secret``, ``password`` / ``passphrase``, or one JSON
   file ``{"apiKey": ..., "secret": ..., "password": ...}``.
3. The default secrets directory ``<secrets_dir>/<role-dns>/`` (``/etc/hbot/keys/trade``,
   ``/etc/hbot/keys/kill-switch``, ...), the chart's mount point, with the same file names.

Values are held as pydantic ``SecretStr``: ``repr``/``str``/logging show ``'**********'``. Anything
that turns exchange text into records or logs goes through :func:`redact` (ccxt error messages
and its debug log can echo request headers and bodies).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hbot.settings import ConfigError

KeyRole = Literal["data", "trade", "kill_switch"]
KEY_ROLES: tuple[KeyRole, ...] = ("data", "trade", "kill_switch")

# Worker role -> the one key it may load (the Helm chart mounts the same mapping).
KEY_ROLE_OF_WORKER: dict[str, KeyRole] = {
    "market_data": "data",
    "reconciliation": "data",
    "execution": "trade",
    "kill_switch": "kill_switch",
}

DEFAULT_SECRETS_DIR = Path("/etc/hbot/keys")
REDACTED = "***"
# Shorter values are not redacted: replacing every "1" or "ab" in a message would destroy it and
# such a value is no secret anyway.
_MIN_SECRET_LEN = 4

_FILE_NAMES = {
    "api_key": ("apiKey", "api_key"),
    "secret": ("secret",),
    "passphrase": ("password", "passphrase"),
}


class ExchangeKey(BaseModel):
    """One exchange API key of one role. Secret fields never print."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: KeyRole
    api_key: SecretStr
    secret: SecretStr
    passphrase: SecretStr | None = None
    source: str = Field(description="Where the key was read from (variable names or a path; never a value).")

    def ccxt_credentials(self) -> dict[str, str]:
        """``apiKey`` / ``secret`` / ``password`` for a ccxt exchange constructor."""
        creds = {"apiKey": self.api_key.get_secret_value(), "secret": self.secret.get_secret_value()}
        if self.passphrase is not None:
            creds["password"] = self.passphrase.get_secret_value()
        return creds

    def secret_values(self) -> tuple[str, ...]:
        """The raw values to scrub from any text that leaves the process (logs, records, errors)."""
        vals = [self.api_key.get_secret_value(), self.secret.get_secret_value()]
        if self.passphrase is not None:
            vals.append(self.passphrase.get_secret_value())
        return tuple(v for v in vals if v)


def key_role_for_worker(worker_role: str) -> KeyRole | None:
    """The key a worker role uses (``execution`` -> ``trade``), or None for roles that need none."""
    return KEY_ROLE_OF_WORKER.get(worker_role)


def env_names(role: KeyRole) -> dict[str, str]:
    """The environment variable names of ``role`` (field -> variable)."""
    r = role.upper()
    return {
        "api_key": f"HBOT_KEY_{r}_API_KEY",
        "secret": f"HBOT_KEY_{r}_SECRET",
        "passphrase": f"HBOT_KEY_{r}_PASSPHRASE",
        "key_file": f"HBOT_{r}_KEY_FILE",
    }


def load_key(
    role: KeyRole,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path | None = None,
) -> ExchangeKey:
    """Load the key of ``role`` only (see the module doc for the sources); raises :class:`ConfigError`.

    ``environ`` defaults to ``os.environ``; only this role's variable names are looked up in it
    (no iteration, no other role's names). ``secrets_dir`` defaults to ``/etc/hbot/keys``.
    """
    if role not in KEY_ROLES:
        raise ConfigError(f"unknown key role {role!r}; use one of {', '.join(KEY_ROLES)}")
    env = os.environ if environ is None else environ
    names = env_names(role)
    direct = {f: env.get(names[f]) or None for f in ("api_key", "secret", "passphrase")}
    if any(direct.values()):
        missing = [names[f] for f in ("api_key", "secret") if not direct[f]]
        if missing:
            raise ConfigError(f"{', '.join(missing)} not set while other {role} key variables are; set it or unset them all")
        return _make_key(role, direct, source=f"env:{names['api_key']},{names['secret']}" + (f",{names['passphrase']}" if direct["passphrase"] else ""))
    key_file = env.get(names["key_file"]) or None
    if key_file:
        return _from_path(role, Path(key_file), source_hint=names["key_file"])
    base = (DEFAULT_SECRETS_DIR if secrets_dir is None else Path(secrets_dir)) / role.replace("_", "-")
    if base.is_dir():
        return _from_path(role, base, source_hint="secrets_dir")
    raise ConfigError(
        f"no {role} exchange key: set {names['api_key']} and {names['secret']} (and {names['passphrase']} for Bitget), "
        f"or {names['key_file']} to a mounted secret, or mount it at {base}"
    )


def load_key_for_worker(worker_role: str, **kwargs: Any) -> ExchangeKey | None:
    """The key of a worker role (``load_key(key_role_for_worker(role))``), None for roles without one."""
    role = key_role_for_worker(worker_role)
    return None if role is None else load_key(role, **kwargs)


def _from_path(role: KeyRole, path: Path, source_hint: str) -> ExchangeKey:
    if path.is_dir():
        vals = {f: _read_first(path, names) for f, names in _FILE_NAMES.items()}
        missing = [f"{path}/{_FILE_NAMES[f][0]}" for f in ("api_key", "secret") if not vals[f]]
        if missing:
            raise ConfigError(f"{role} key from {source_hint}: {', '.join(missing)} missing or empty; mount a Secret with apiKey and secret")
        return _make_key(role, vals, source=str(path))
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            # The exception text could quote the file's content: name the problem, not the text.
            raise ConfigError(f"{role} key file {path} ({source_hint}) is not a JSON object ({type(exc).__name__}); write {{\"apiKey\", \"secret\", \"password\"}}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{role} key file {path} ({source_hint}) is not a JSON object; write {{\"apiKey\", \"secret\", \"password\"}}")
        vals = {f: next((str(doc[n]) for n in names if doc.get(n)), None) for f, names in _FILE_NAMES.items()}
        missing = [_FILE_NAMES[f][0] for f in ("api_key", "secret") if not vals[f]]
        if missing:
            raise ConfigError(f"{role} key file {path} ({source_hint}) lacks {', '.join(missing)}; add it")
        return _make_key(role, vals, source=str(path))
    raise ConfigError(f"{role} key path {path} ({source_hint}) does not exist; mount the Secret there or fix the variable")


def _read_first(directory: Path, names: tuple[str, ...]) -> str | None:
    for n in names:
        p = directory / n
        if p.is_file():
            # Secret files usually end with a newline (kubectl create secret --from-file).
            value = p.read_text().strip()
            if value:
                return value
    return None


def _make_key(role: KeyRole, vals: Mapping[str, str | None], source: str) -> ExchangeKey:
    passphrase = vals.get("passphrase")
    return ExchangeKey(
        role=role,
        api_key=SecretStr(str(vals["api_key"]).strip()),
        secret=SecretStr(str(vals["secret"]).strip()),
        passphrase=None if not passphrase else SecretStr(passphrase.strip()),
        source=source,
    )


# ---------------------------------------------------------------------------------------- redaction
def _secret_strings(keys: Iterable[ExchangeKey | str | SecretStr | None]) -> list[str]:
    out: set[str] = set()
    for k in keys:
        if k is None:
            continue
        if isinstance(k, ExchangeKey):
            vals: Iterable[str] = k.secret_values()
        elif isinstance(k, SecretStr):
            vals = (k.get_secret_value(),)
        else:
            vals = (str(k),)
        for v in vals:
            if len(v) >= _MIN_SECRET_LEN:
                # Also the forms a value takes inside a URL or a form body.
                out.update({v, quote(v, safe=""), quote_plus(v)})
    # Longest first, so a secret containing another one is replaced whole.
    return sorted(out, key=len, reverse=True)


def redact(text: str, keys: Iterable[ExchangeKey | str | SecretStr | None]) -> str:
    """``text`` with every secret value of ``keys`` (also URL-encoded) replaced by ``***``."""
    return _replace(text, _secret_strings(keys))


def _replace(text: str, secrets: list[str]) -> str:
    if not text:
        return text
    for s in secrets:
        if s in text:
            text = text.replace(s, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secret values from a record's message and traceback.

    Attach it to the logger that emits the text (filters run where a record is created, before
    any handler formats it), e.g. the logger a ccxt exchange object writes its debug log to.
    """

    def __init__(self, keys: Iterable[ExchangeKey | str | SecretStr | None]) -> None:
        super().__init__()
        self._secrets = _secret_strings(keys)

    def add(self, keys: Iterable[ExchangeKey | str | SecretStr | None]) -> None:
        """Also scrub the values of ``keys`` (filters of a shared logger only ever grow)."""
        self._secrets = sorted(set(self._secrets) | set(_secret_strings(keys)), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string must not break logging
            msg = str(record.msg)
        record.msg = _replace(msg, self._secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = _replace(logging.Formatter().formatException(record.exc_info), self._secrets)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _replace(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = _replace(record.stack_info, self._secrets)
        return True


def install_redaction(logger: logging.Logger, keys: Iterable[ExchangeKey | str | SecretStr | None]) -> RedactingFilter:
    """Make ``logger`` scrub the values of ``keys``: extends its :class:`RedactingFilter` or adds one."""
    for f in logger.filters:
        if isinstance(f, RedactingFilter):
            f.add(keys)
            return f
    new = RedactingFilter(keys)
    logger.addFilter(new)
    return new
