"""The operations docs' commands are real: runnable ones run, the others exist with their options.

Every fenced block ```console in docs/operations/*.md holds commands after a ``$ `` prompt. A
plain ``console`` block must run anywhere: its ``hbot`` commands run here against the session's
broker and a migrated embedded ClickHouse and must exit 0 (a query with a wrong column fails);
``promtool`` / ``amtool`` / ``helm`` commands run when the tool is installed. A block marked
``destructive``, ``requires-desk`` or ``long-running`` is not run: its ``hbot`` commands must
exist with the options used (``hbot <cmd> --help`` exits 0), or are skipped while the command is
not in this build; its ``python -m pytest`` commands must name test files and tests that exist.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.deploy.deploy_tools import require_tool, run as run_tool

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "operations"
EXPECTED = {"data-flow.md", "go-live-checklist.md", "playbooks.md", "keys.md", "testnet-promotion.md"}
MARKERS = {"destructive", "requires-desk", "long-running"}
RUNNABLE_TOOLS = {"promtool", "amtool", "helm"}
MARKED_PROGRAMS = {"hbot", "kubectl", "helm", "python", "promtool", "amtool"}
# hbot commands a plain block may hold: read-only, or idempotent set-up.
SAFE_HBOT = {("sql",), ("topics", "list"), ("topics", "describe"), ("sink", "migrate")}


@dataclass(frozen=True)
class Command:
    """One ``$ `` command of a console block."""

    doc: str
    line: int
    markers: frozenset[str]
    argv: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{' '.join(self.argv[:3])}"


def parse(path: Path) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """(line of the fence, info string, [(line, command)]) for every ```console block."""
    blocks: list[tuple[int, str, list[tuple[int, str]]]] = []
    current: tuple[int, str, list[tuple[int, str]]] | None = None
    pending = ""
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if current is None:
            m = re.fullmatch(r"```console(.*)", line)
            if m:
                current = (n, m.group(1).strip(), [])
            continue
        if line.startswith("```"):
            blocks.append(current)
            current = None
            continue
        if pending or line.startswith("$ "):
            text = pending + (line[2:] if not pending else line)
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            current[2].append((n, text.strip()))
    assert current is None, f"{path.name}: unclosed ```console block from line {current[0] if current else '?'}"
    return blocks


def commands() -> list[Command]:
    out = []
    for path in sorted(DOCS.glob("*.md")):
        for _, info, cmds in parse(path):
            markers = frozenset(info.split())
            for n, text in cmds:
                out.append(Command(path.name, n, markers, tuple(shlex.split(text))))
    return out


ALL = commands()
PLAIN_HBOT = [c for c in ALL if not c.markers and c.argv[0] == "hbot"]
PLAIN_TOOLS = [c for c in ALL if not c.markers and c.argv[0] in RUNNABLE_TOOLS]
MARKED_HBOT = [c for c in ALL if c.markers and c.argv[0] == "hbot"]
MARKED_PYTEST = [c for c in ALL if c.markers and c.argv[:3] == ("python", "-m", "pytest")]


# -- the docs are there and follow the conventions ------------------------------------------------------------

def test_the_operations_docs_exist_and_hold_commands() -> None:
    assert {p.name for p in DOCS.glob("*.md")} >= EXPECTED
    for name in EXPECTED:
        assert any(c.doc == name for c in ALL), f"{name} has no ```console command"
    assert len(PLAIN_HBOT) >= 20


def test_every_console_block_has_known_markers_commands_and_programs() -> None:
    for path in sorted(DOCS.glob("*.md")):
        for n, info, cmds in parse(path):
            where = f"{path.name}:{n}"
            assert set(info.split()) <= MARKERS, f"{where}: unknown marker(s) {set(info.split()) - MARKERS}; use {sorted(MARKERS)}"
            assert cmds, f"{where}: a console block without a '$ ' command"
    for c in ALL:
        allowed = MARKED_PROGRAMS if c.markers else {"hbot", *RUNNABLE_TOOLS}
        assert c.argv[0] in allowed, f"{c.id}: '{c.argv[0]}' in a {'marked' if c.markers else 'plain'} block; allowed: {sorted(allowed)}"
        if not c.markers and c.argv[0] == "hbot":
            words = tuple(a for a in c.argv[1:3] if not a.startswith("-"))
            assert "--help" in c.argv or any(words[:len(s)] == s for s in SAFE_HBOT), \
                f"{c.id}: `{' '.join(c.argv)}` changes state or needs a desk: mark its block destructive, requires-desk or long-running"


def test_every_file_the_docs_reference_exists() -> None:
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text()
        for ref in sorted(set(re.findall(r"\b((?:tests|deploy|schemas|streams|processors|sinks|hbot)/[\w./-]+\.(?:py|yml|yaml|md|avsc)(?:::\w+)?)", text))):
            file, _, name = ref.partition("::")
            assert (REPO / file).exists(), f"{path.name} names {file}, which does not exist"
            if name:
                assert re.search(rf"def {name}\(", (REPO / file).read_text()), f"{path.name} names {ref}: no such test"


# -- plain blocks: the hbot commands run and exit 0 -----------------------------------------------------------

# One interpreter runs every plain hbot command through the console-script entry point
# (hbot.cli:main), one after another: ~0.2 s per command instead of ~1.8 s of start-up each, and
# one process for the embedded ClickHouse folder (chDB allows one folder per process).
_BATCH = r"""
import contextlib, io, json, sys
from hbot.cli import main
src, dst = sys.argv[1], sys.argv[2]
results = []
for argv in json.load(open(src)):
    err = io.StringIO()
    sys.argv = ["hbot", *argv]
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # a traceback would have ended the real command with exit 1
            code, err = 1, io.StringIO(f"{type(exc).__name__}: {exc}")
    results.append({"code": code, "stderr": err.getvalue()[-2000:]})
json.dump(results, open(dst, "w"))
"""


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> dict[str, str]:
    """A fresh hbot home on the session broker, its ClickHouse tables migrated by the real CLI."""
    home = tmp_path_factory.mktemp("ops-docs-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HBOT_")}
    env.update(HBOT_KAFKA_BOOTSTRAP=kafka_bootstrap, HBOT_HOME=str(home), HBOT_TRACE_EXPORTER="none")
    res = subprocess.run([sys.executable, "-m", "hbot.cli", "sink", "migrate"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return env


@pytest.fixture(scope="module")
def cli_results(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Exit code and stderr of every hbot command to run: plain ones, and ``--help`` of the marked ones."""
    batch: dict[str, list[str]] = {c.id: list(c.argv[1:]) for c in PLAIN_HBOT}
    for c in MARKED_HBOT:
        path, cmd, _ = resolve(c.argv[1:])
        if cmd is not None:
            batch[c.id] = [*path, "--help"]
    d = tmp_path_factory.mktemp("ops-docs-batch")
    (d / "in.json").write_text(json.dumps(list(batch.values())))
    res = subprocess.run([sys.executable, "-c", _BATCH, str(d / "in.json"), str(d / "out.json")], env=cli_env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    return dict(zip(batch, json.loads((d / "out.json").read_text())))


@pytest.mark.broker
@pytest.mark.clickhouse
@pytest.mark.parametrize("cmd", PLAIN_HBOT, ids=lambda c: c.id)
def test_when_a_plain_hbot_command_of_the_docs_runs_then_it_exits_0(cmd: Command, cli_results: dict[str, dict[str, Any]]) -> None:
    r = cli_results[cmd.id]
    assert r["code"] == 0, f"`{' '.join(cmd.argv)}` ({cmd.id}) exited {r['code']}: {r['stderr']}"


@pytest.mark.parametrize("cmd", PLAIN_TOOLS, ids=lambda c: c.id)
def test_when_a_plain_tool_command_of_the_docs_runs_then_it_exits_0(cmd: Command) -> None:
    tool = require_tool(cmd.argv[0])
    args = [m for a in cmd.argv[1:] for m in (sorted(glob.glob(str(REPO / a))) if "*" in a else [a])]
    res = run_tool([tool, *args])
    assert res.returncode == 0, f"`{' '.join(cmd.argv)}` ({cmd.id}): {res.stdout[-1500:]}{res.stderr[-1500:]}"


# -- marked blocks: the commands exist with the options used --------------------------------------------------

def resolve(tokens: tuple[str, ...]) -> tuple[list[str], Any, tuple[str, ...]]:
    """Walk the CLI's command tree: (sub-command path, the command or None when missing, the rest)."""
    from hbot.cli import app

    cmd: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = tokens
    # Typer may vendor its own click, so a group is recognised by its ``commands`` mapping.
    while isinstance(getattr(cmd, "commands", None), dict) and rest and not rest[0].startswith("-"):
        sub = cmd.commands.get(rest[0])
        if sub is None:
            return path + [rest[0]], None, rest[1:]
        path.append(rest[0])
        cmd, rest = sub, rest[1:]
    return path, cmd, rest


@pytest.mark.broker
@pytest.mark.parametrize("cmd", MARKED_HBOT, ids=lambda c: c.id)
def test_when_a_marked_hbot_command_is_documented_then_it_exists_with_its_options(
        cmd: Command, cli_results: dict[str, dict[str, Any]]) -> None:
    path, command, rest = resolve(cmd.argv[1:])
    if command is None:
        if len(path) == 1:
            pytest.skip(f"`hbot {path[0]}` is not in this build yet ({cmd.id})")
        pytest.fail(f"{cmd.id}: `hbot {' '.join(path)}` does not exist")
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    used = {a.split("=", 1)[0] for a in rest if a.startswith("--")}
    assert used <= known, f"{cmd.id}: `hbot {' '.join(path)}` has no option(s) {sorted(used - known)}"
    r = cli_results[cmd.id]
    assert r["code"] == 0, f"`hbot {' '.join(path)} --help` exited {r['code']}: {r['stderr']}"


@pytest.mark.parametrize("cmd", MARKED_PYTEST, ids=lambda c: c.id)
def test_when_a_test_run_is_documented_then_its_tests_exist(cmd: Command) -> None:
    args = list(cmd.argv[3:])
    targets = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in ("-k", "-m"))]
    assert targets, f"{cmd.id}: no test path"
    for t in targets:
        file, _, name = t.partition("::")
        assert (REPO / file).is_file(), f"{cmd.id}: {file} does not exist"
        if name:
            assert re.search(rf"def {name}\(", (REPO / file).read_text()), f"{cmd.id}: no test {name} in {file}"

