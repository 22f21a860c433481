"""A minimal Faust worker for tests: one agent on the trade topic that forwards each decoded trade's id."""

from __future__ import annotations

import sys

from streams.app import avro_topic, create_app
from streams.serde import SingleObjectSerde

serde = SingleObjectSerde()
app = create_app(f"probe-{sys.argv[2]}", sys.argv[1], serde, web_port=int(sys.argv[3]))
trades = avro_topic(app, "hb.market.trade.v1", "probe", serde)


@app.agent(trades)
async def forward(stream):  # noqa: ANN001, ANN201 - Faust agent signature
    async for rec in stream:
        print(f"PROCESSED {rec['event_id']}", flush=True)  # one argument: Faust logs each print argument as its own line


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()
