"""Pieces several benchmarks share: a wall/CPU timer and the ``--tracing`` option."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


class Timer:
    """Wall and CPU time of a block (CPU time is what one core spends, whatever else the machine runs)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def add_tracing_option(ap: argparse.ArgumentParser, as_what: str) -> None:
    """``--tracing none|file``; ``as_what`` says whose default ``file`` reproduces."""
    ap.add_argument("--tracing", choices=["none", "file"], default="none",
                    help=f"'file': install the OpenTelemetry SDK with the JSON-lines exporter first, as {as_what}")


def install_tracing(choice: str, service: str, directory: Path) -> None:
    """With ``--tracing file``: the OpenTelemetry SDK exporting every span to ``directory`` (sampling 1.0)."""
    if choice == "file":
        from streams.tracing import setup_tracing

        setup_tracing(service, "file", directory, 1.0)
