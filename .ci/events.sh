#!/usr/bin/env bash
# CI step: the events package and its broker adapters against real brokers.
# NATS runs in-process in the tests (nats-server's Go module) and Kafka is
# franz-go's in-process kfake cluster; RabbitMQ is Debian's rabbitmq-server,
# installed here when missing, started for these tests and stopped after.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

echo "== events: RabbitMQ (Debian's rabbitmq-server)"
if ! command -v rabbitmq-server >/dev/null; then
  echo "installing rabbitmq-server"
  aptlog=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server; } >"$aptlog" 2>&1; then
    cat "$aptlog"; echo "could not install Debian's rabbitmq-server package"; exit 1
  fi
  rm -f "$aptlog"
fi

started=""
stop_rabbit() {
  if [ -n "$started" ]; then
    rabbitmqctl stop >/dev/null 2>&1 || true
  fi
}
trap stop_rabbit EXIT
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "starting rabbitmq-server"
  rabbitmq-server -detached
  started=1
  # await_startup waits for the node to boot once it can be reached.
  for _ in $(seq 1 60); do
    if rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; then break; fi
    sleep 1
  done
  rabbitmqctl -q await_startup --timeout 60
fi
export RABBITMQ_URL="${RABBITMQ_URL:-amqp://guest:guest@localhost:5672/}"

echo "== events: tests (NATS in-process, Kafka on kfake, RabbitMQ at $RABBITMQ_URL)"
go test -count=1 ./events/... ./examples/order-choreography/...

echo "== events: the RabbitMQ test ran, not skipped"
go test -count=1 -run TestPublishConfirmedAndConsumedInOrder -v ./events/rabbitmq/ | grep -E '^--- PASS'
