"""A do-nothing Faust worker for bench_broker_latency.py: ``<prefix>.in`` -> ``<prefix>.out``, raw bytes.

Built with hbot's app factory (same transport, short fetch wait, session settings) so the hop it
adds is the one a desk agent adds, minus the agent's own work.

    python bench/_faust_forwarder.py <bootstrap> <topic prefix> <web port> <data dir>
"""

from __future__ import annotations

import sys

from streams.app import create_app
from streams.serde import SingleObjectSerde

bootstrap, prefix, web_port, datadir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
app = create_app(f"bench-forwarder-{prefix}", bootstrap, SingleObjectSerde(), web_port=web_port, web_enabled=False,
                 datadir=datadir)  # Faust's default datadir is the working directory
source = app.topic(f"{prefix}.in", value_type=bytes, value_serializer="raw", key_serializer="raw", partitions=1)
sink = app.topic(f"{prefix}.out", value_type=bytes, value_serializer="raw", key_serializer="raw", partitions=1)


@app.agent(source)
async def forward(stream):  # noqa: ANN001, ANN201 - Faust agent signature
    async for value in stream:
        await sink.send(value=value)


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()
