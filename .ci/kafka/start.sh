#!/usr/bin/env bash
# Start a single-node Apache Kafka (KRaft) on loopback for CI; jars come from Maven Central.
# Usage: start.sh PORT   -> prints nothing on success; the broker's pid is in data/kafka.pid
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-19092}
cport=$((port + 1))
cd "$here"
if [ ! -d lib ] || [ "$(ls lib | wc -l)" -lt 10 ]; then
  mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib
fi
rm -rf data && mkdir -p data
cat > data/server.properties <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${here}/data/logs
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
java -cp "lib/*" kafka.tools.StorageTool format -t "$(cat /proc/sys/kernel/random/uuid | tr -d '-' | head -c 22)" -c data/server.properties > data/format.log 2>&1
nohup java -Xmx1g -Dlog4j.configuration=file:/dev/null -cp "lib/*" kafka.Kafka data/server.properties > data/kafka.log 2>&1 &
echo $! > data/kafka.pid
for _ in $(seq 1 60); do
  if (echo > /dev/tcp/127.0.0.1/${port}) 2>/dev/null; then sleep 2; exit 0; fi
  sleep 1
done
echo "Apache Kafka did not come up on port ${port}; last log lines:" >&2
tail -20 data/kafka.log >&2
exit 1
