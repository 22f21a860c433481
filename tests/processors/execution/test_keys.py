"""Exchange keys by role: each role loads only its own key, values never print, text is scrubbed."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Mapping

import pytest

from hbot.settings import ConfigError
from processors.execution.keys import (
    ExchangeKey,
    RedactingFilter,
    env_names,
    install_redaction,
    key_role_for_worker,
    load_key,
    load_key_for_worker,
    redact,
)

ROLES = ("data", "trade", "kill_switch")


def _env_values(role: str) -> dict[str, str]:
    r = role.upper()
    return {
        f"HBOT_KEY_{r}_API_KEY": f"fake-{role}-api-key-0001",
        f"HBOT_KEY_{r}_SECRET": f"fake-{role}-secret-0002",
        f"HBOT_KEY_{r}_PASSPHRASE": f"fake-{role}-pass-0003",
    }


class RecordingEnv(Mapping[str, str]):
    """An environment that records every name looked up, and any attempt to list it."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self.looked_up: list[str] = []
        self.listed = False

    def __getitem__(self, name: str) -> str:
        self.looked_up.append(name)
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.looked_up.append(name)
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        self.looked_up.append(str(name))
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        self.listed = True
        return iter(self._values)

    def __len__(self) -> int:
        self.listed = True
        return len(self._values)


_AUDIT: list[tuple[str, str]] | None = None


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if _AUDIT is not None and event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, Path)):
        _AUDIT.append((event, str(args[0])))


sys.addaudithook(_audit_hook)  # audit hooks cannot be removed; it records only while _AUDIT is a list


@pytest.fixture
def file_accesses() -> Iterator[list[tuple[str, str]]]:
    """Every file opened or directory listed by this process during the test."""
    global _AUDIT
    _AUDIT = []
    try:
        yield _AUDIT
    finally:
        _AUDIT = None


def _write_role_dirs(base: Path) -> None:
    for role in ROLES:
        d = base / role.replace("_", "-")
        d.mkdir(parents=True)
        (d / "apiKey").write_text(f"file-{role}-api-key-0001\n")
        (d / "secret").write_text(f"file-{role}-secret-0002\n")
        (d / "password").write_text(f"file-{role}-pass-0003\n")


@pytest.mark.parametrize("role", ROLES)
def test_when_all_roles_are_in_the_environment_then_load_key_reads_only_its_roles_variables(role: str) -> None:
    # Arrange
    env = RecordingEnv({k: v for r in ROLES for k, v in _env_values(r).items()})

    # Act
    key = load_key(role, environ=env)  # type: ignore[arg-type]

    # Assert
    expected = _env_values(role)
    r = role.upper()
    assert key.role == role
    assert key.api_key.get_secret_value() == expected[f"HBOT_KEY_{r}_API_KEY"]
    assert key.secret.get_secret_value() == expected[f"HBOT_KEY_{r}_SECRET"]
    assert key.passphrase is not None and key.passphrase.get_secret_value() == expected[f"HBOT_KEY_{r}_PASSPHRASE"]
    assert not env.listed
    assert set(env.looked_up) <= set(env_names(role).values())
    others = [n for other in ROLES if other != role for n in env_names(other).values()]
    assert not set(env.looked_up) & set(others)


def test_when_load_key_uses_the_process_environment_then_it_looks_up_only_its_roles_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: the module's view of os.environ is a recorder holding all three roles
    import processors.execution.keys as keys_module

    env = RecordingEnv({k: v for r in ROLES for k, v in _env_values(r).items()})
    monkeypatch.setattr(keys_module, "os", SimpleNamespace(environ=env))

    # Act
    key = load_key("kill_switch")

    # Assert
    assert key.api_key.get_secret_value() == "fake-kill_switch-api-key-0001"
    assert not env.listed and env.looked_up and all(n.startswith(("HBOT_KEY_KILL_SWITCH_", "HBOT_KILL_SWITCH_")) for n in env.looked_up)


@pytest.mark.parametrize("role", ROLES)
def test_when_keys_are_mounted_files_then_only_that_roles_files_are_touched(role: str, tmp_path: Path, file_accesses: list[tuple[str, str]]) -> None:
    # Arrange
    _write_role_dirs(tmp_path)
    file_accesses.clear()

    # Act
    key = load_key(role, environ={}, secrets_dir=tmp_path)

    # Assert
    assert key.api_key.get_secret_value() == f"file-{role}-api-key-0001"  # trailing newline stripped
    assert key.passphrase is not None and key.passphrase.get_secret_value() == f"file-{role}-pass-0003"
    own = tmp_path / role.replace("_", "-")
    touched = [p for _, p in file_accesses if p.startswith(str(tmp_path))]
    assert touched and all(p.startswith(str(own) + "/") for p in touched), touched
    assert {Path(p).name for p in touched} == {"apiKey", "secret", "password"}


def test_when_the_chart_sets_the_key_file_variable_to_a_directory_or_json_then_it_is_read(tmp_path: Path) -> None:
    # Arrange: the Helm chart mounts the Secret at /etc/hbot/keys/<role> and sets HBOT_<ROLE>_KEY_FILE
    _write_role_dirs(tmp_path / "mount")
    doc = tmp_path / "key.json"
    doc.write_text(json.dumps({"apiKey": "json-api-key-0001", "secret": "json-secret-0002", "password": "json-pass-0003"}))

    # Act
    from_dir = load_key("kill_switch", environ={"HBOT_KILL_SWITCH_KEY_FILE": str(tmp_path / "mount" / "kill-switch")})
    from_json = load_key("trade", environ={"HBOT_TRADE_KEY_FILE": str(doc)})

    # Assert
    assert from_dir.secret.get_secret_value() == "file-kill_switch-secret-0002"
    assert from_json.ccxt_credentials() == {"apiKey": "json-api-key-0001", "secret": "json-secret-0002", "password": "json-pass-0003"}
    assert from_json.source == str(doc)


def test_when_key_is_printed_or_dumped_then_no_value_shows() -> None:
    # Arrange
    key = load_key("trade", environ=_env_values("trade"))

    # Act
    shown = [repr(key), str(key), key.model_dump_json(), f"{key}", repr(key.api_key), str(key.secret)]

    # Assert
    for text in shown:
        for value in key.secret_values():
            assert value not in text
    assert "**********" in repr(key)


def test_when_no_key_is_configured_then_the_error_names_the_variables_and_the_mount() -> None:
    # Act
    with pytest.raises(ConfigError) as exc:
        load_key("trade", environ={}, secrets_dir=Path("/nonexistent/hbot-keys"))

    # Assert
    msg = str(exc.value)
    assert "HBOT_KEY_TRADE_API_KEY" in msg and "HBOT_TRADE_KEY_FILE" in msg and "/nonexistent/hbot-keys/trade" in msg


def test_when_only_the_secret_variable_is_set_then_the_error_names_the_missing_one_and_never_the_value() -> None:
    # Act
    with pytest.raises(ConfigError) as exc:
        load_key("trade", environ={"HBOT_KEY_TRADE_SECRET": "fake-lonely-secret-9999"})

    # Assert
    assert "HBOT_KEY_TRADE_API_KEY" in str(exc.value)
    assert "fake-lonely-secret-9999" not in str(exc.value)


def test_when_a_json_key_file_is_broken_then_the_error_does_not_quote_it(tmp_path: Path) -> None:
    # Arrange
    doc = tmp_path / "key.json"
    doc.write_text('{"apiKey": "fake-broken-key-1234", "secret": ')

    # Act
    with pytest.raises(ConfigError) as exc:
        load_key("trade", environ={"HBOT_TRADE_KEY_FILE": str(doc)})

    # Assert
    assert "not a JSON object" in str(exc.value) and "fake-broken-key-1234" not in str(exc.value)


def test_when_worker_roles_ask_for_keys_then_each_gets_its_one_role() -> None:
    # Arrange
    env = {k: v for r in ROLES for k, v in _env_values(r).items()}

    # Act
    got = {w: load_key_for_worker(w, environ=env) for w in ("execution", "kill_switch", "market_data", "reconciliation", "strategy")}

    # Assert
    assert {w: (k.role if k else None) for w, k in got.items()} == {
        "execution": "trade", "kill_switch": "kill_switch", "market_data": "data", "reconciliation": "data", "strategy": None}
    assert key_role_for_worker("risk") is None


def test_when_text_holds_key_values_raw_or_url_encoded_then_redact_replaces_them() -> None:
    # Arrange
    key = ExchangeKey.model_validate({"role": "trade", "api_key": "fake/key+1=2", "secret": "fake-secret-xyz", "passphrase": "p@ss word", "source": "t"})
    text = "url ?apiKey=fake%2Fkey%2B1%3D2&p=p%40ss+word body {'secret': 'fake-secret-xyz'} header fake/key+1=2"

    # Act
    out = redact(text, [key])

    # Assert
    assert out == "url ?apiKey=***&p=*** body {'secret': '***'} header ***"


def test_when_a_filtered_logger_logs_args_and_a_traceback_then_both_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    log = logging.getLogger("tests.keys.redaction")
    install_redaction(log, ["fake-secret-abcdef"])
    install_redaction(log, ["fake-other-123456"])  # a second key extends the same filter
    caplog.set_level(logging.DEBUG)

    # Act
    log.debug("headers %s", {"ACCESS-KEY": "fake-secret-abcdef"})
    try:
        raise RuntimeError("bad sign for fake-other-123456")
    except RuntimeError:
        log.exception("failed")

    # Assert
    assert sum(isinstance(f, RedactingFilter) for f in log.filters) == 1
    assert "fake-secret-abcdef" not in caplog.text and "fake-other-123456" not in caplog.text
    assert "{'ACCESS-KEY': '***'}" in caplog.text and "bad sign for ***" in caplog.text
