"""The Faust probe worker (faust_probe_app.py) with desk metrics served on a Prometheus endpoint.

argv: bootstrap, unique id, Faust web port, metrics port.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from streams.metrics import setup_metrics

if __name__ == "__main__":
    # Before the app is built: avro_topic() declares its DLQ counter on the installed metrics.
    setup_metrics("metrics-probe", "prometheus", int(sys.argv.pop(4)))
    runpy.run_path(str(Path(__file__).with_name("faust_probe_app.py")), run_name="__main__")
