#!/bin/sh
# A private RabbitMQ node for tests and benchmarks, which never touches a system broker.
#
#   sh scripts/rabbitmq.sh start DIR   start a node whose files all live in DIR; print its URL
#   sh scripts/rabbitmq.sh stop DIR    stop that node (by its own pid) and its port mapper
#   sh scripts/rabbitmq.sh url DIR     print the URL of the node in DIR
#
# The node has its own name, AMQP port, distribution port, Erlang port-mapper port,
# data and log directories, plugins file (no plugins: no management listener) and
# cookie (HOME=DIR). Starting again with the same DIR reuses its ports and data, so
# persistent messages survive a stop/start (the restart tests rely on this).
# Installs rabbitmq-server with apt-get when it is missing and we are root.
set -eu

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop|url DIR" >&2
    exit 2
fi

RMQ_BIN=${RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}

install_server() {
    [ -x "$RMQ_BIN/rabbitmq-server" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing rabbitmq-server" >&2
        apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            rabbitmq-server >/dev/null 2>&1 || true
        # The package starts the system service where it can; we never use or stop it.
    fi
    if [ ! -x "$RMQ_BIN/rabbitmq-server" ]; then
        echo "rabbitmq-server is not installed (apt-get install rabbitmq-server)" >&2
        exit 3
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

node_env() {
    # shellcheck disable=SC1091
    . "$dir/env"
    export HOME="$dir"
    export RABBITMQ_NODENAME="$NODENAME"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$AMQP_PORT"
    export RABBITMQ_DIST_PORT="$DIST_PORT"
    export ERL_EPMD_PORT="$EPMD_PORT"
    export ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_MNESIA_BASE="$dir/mnesia"
    export RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_LOGS="$dir/log/node.log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
    export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    export RABBITMQ_PID_FILE="$dir/node.pid"
    export RABBITMQ_SERVER_ERL_ARGS="+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"
}

url() {
    # shellcheck disable=SC1091
    . "$dir/env"
    echo "amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2F"
}

wait_ready() {
    # Ready when the AMQP listener answers a protocol header with connection.start.
    python3 - "$AMQP_PORT" "$1" <<'EOF'
import socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    try:
        import os
        os.kill(pid, 0)
    except OSError:
        sys.exit("rabbitmq-server exited during start-up")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            if s.recv(1) == b"\x01":
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("rabbitmq-server did not start within 90 s")
EOF
}

case "$cmd" in
start)
    install_server
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ ! -f "$dir/env" ]; then
        {
            echo "NODENAME=offload-test-$$@localhost"
            echo "AMQP_PORT=$(free_port)"
            echo "DIST_PORT=$(free_port)"
            echo "EPMD_PORT=$(free_port)"
        } >"$dir/env"
        echo "[]." >"$dir/enabled_plugins"
        # consumer_timeout lower than the default so tests can see it; jobs stay below it.
        printf 'loopback_users = none\nlisteners.tcp.default = %s\n' \
            "$(. "$dir/env"; echo "$AMQP_PORT")" >"$dir/rabbitmq.conf"
        echo "[]." >"$dir/advanced.config"
        : >"$dir/rabbitmq-env.conf"
        head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/.erlang.cookie"
        chmod 400 "$dir/.erlang.cookie"
    fi
    if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        url
        exit 0
    fi
    node_env
    mkdir -p "$dir/mnesia" "$dir/log"
    # Our own port mapper on our own port, so other nodes on this machine never see us.
    epmd -port "$EPMD_PORT" -address 127.0.0.1 -daemon
    "$RMQ_BIN/rabbitmq-server" >"$dir/log/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/server.pid"
    if ! wait_ready "$(cat "$dir/server.pid")"; then
        tail -20 "$dir/log/stdout.log" >&2
        exit 1
    fi
    url
    ;;
stop)
    [ -f "$dir/env" ] || exit 0
    node_env
    if [ -f "$dir/server.pid" ]; then
        pid=$(cat "$dir/server.pid")
        # The Erlang VM (beam) of this node: the pid file it writes, else the shell's pid.
        beam=$(cat "$dir/node.pid" 2>/dev/null || echo "$pid")
        kill -TERM "$beam" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while { kill -0 "$beam" 2>/dev/null || kill -0 "$pid" 2>/dev/null; } && [ $i -lt 300 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$beam" "$pid" 2>/dev/null || true
        rm -f "$dir/server.pid" "$dir/node.pid"
    fi
    if [ "${3:-}" != "--keep-epmd" ]; then
        epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
    fi
    ;;
url)
    url
    ;;
*)
    echo "usage: $0 start|stop|url DIR" >&2
    exit 2
    ;;
esac
