"""``hbot`` CLI with every live ccxt exchange pointed at a loopback fake Bitget (tests only).

``HBOT_TEST_EXCHANGE_URL=http://127.0.0.1:PORT python -m tests.processors.execution.live.exec_worker worker --role ...``
runs the real CLI; the one change is that :func:`processors.execution.live.build_exchange` sends
every API request of the exchange it builds to that URL (``fake_bitget_http.FakeBitgetHttp``).
"""

from __future__ import annotations

import os
from typing import Any

from processors.execution import live


def main() -> None:
    base = os.environ["HBOT_TEST_EXCHANGE_URL"]
    real = live.build_exchange

    def build_exchange(config: Any, key: Any) -> Any:
        ex = real(config, key)
        ex.urls["api"] = {name: base for name in ex.urls["api"]}
        return ex

    live.build_exchange = build_exchange
    from hbot.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
