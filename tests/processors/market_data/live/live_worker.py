"""``hbot worker`` with the live feeds' ccxt.pro exchange pointed at a loopback Bitget server (tests only).

``python -m tests.processors.market_data.live.live_worker WS_URL --role market_data`` runs the real
CLI worker; the one change is :func:`processors.market_data.live.feed.make_exchange`, which here
builds a real ccxt.pro ``bitget`` whose websocket URL is ``WS_URL``, whose markets are set from
the documented BTC perpetual and whose REST calls are served from ccxt's recorded Bitget payloads
(:func:`fake_bitget.bitget_exchange`). No internet is used.
"""

from __future__ import annotations

import sys

from processors.market_data.live import feed
from tests.processors.market_data.live.fake_bitget import bitget_exchange


def main() -> None:
    ws_url, args = sys.argv[1], sys.argv[2:]
    feed.make_exchange = lambda cfg: bitget_exchange(ws_url, [])
    sys.argv = [sys.argv[0], "worker", *args]
    from hbot.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
