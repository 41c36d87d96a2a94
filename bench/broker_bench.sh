#!/usr/bin/env bash
# Broker benchmark (issue 7): a real `floe serve` loaded with `floe perf produce`, every figure
# next to a machine limit measured in the same run on the same disk:
#  - raw O_DIRECT sequential write bandwidth of the data disk (dd, 1 MiB blocks, fdatasync);
#  - loopback TCP bandwidth (python3 sockets, 1 GiB);
#  - time from `floe serve` to the first answered ApiVersions;
#  - produce throughput, 1 KiB records, 1 topic of 16 partitions, acks=all, 64 KiB batches;
#  - produce-acknowledgement and end-to-end (creation to consumer receipt) latency p50/p99 at a
#    fixed moderate rate (5,000 records/s);
#  - resident memory idle and right after the load.
# Figures are reported, never asserted. Usage: bench/broker_bench.sh [floe binary] [scratch dir]
set -euo pipefail
floe=${1:-build/floe}
scratch=${2:-$(mktemp -d -p "${TMPDIR:-/var/tmp}" floe-bench-XXXXXX)}
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$scratch"; }
trap cleanup EXIT

raw=$(dd if=/dev/zero of="$scratch/raw" bs=1M count=1024 oflag=direct conv=fdatasync 2>&1 | tail -1)
raw_mbs=$(python3 - "$raw" <<'PY'
import re, sys
m = re.search(r'([\d.]+) ([kMG]?B)/s', sys.argv[1])
v, unit = float(m.group(1)), m.group(2)
print(v * {'B': 1e-6, 'kB': 1e-3, 'MB': 1, 'GB': 1e3}[unit])
PY
)
rm -f "$scratch/raw"
loop_mbs=$(python3 - <<'PY'
import socket, threading, time
N = 1 << 30
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def sink():
    c, _ = srv.accept(); got = 0
    while got < N:
        b = c.recv(1 << 20)
        if not b: break
        got += len(b)
t = threading.Thread(target=sink); t.start()
s = socket.create_connection(srv.getsockname()); buf = b"x" * (1 << 20)
t0 = time.time()
for _ in range(N >> 20): s.sendall(buf)
t.join(); print(N / (time.time() - t0) / 1e6)
PY
)

port=$((20000 + RANDOM % 20000))
start_ns=$(date +%s%N)
"$floe" serve --override data.dir="$scratch/data" --override num.partitions=16 \
  --override listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1)) \
  --override controller.quorum.voters=1@127.0.0.1:$((port + 1)) >"$scratch/serve.out" 2>"$scratch/serve.err" &
pid=$!
startup_ms=$(python3 - "$port" "$start_ns" <<'PY'
import socket, struct, sys, time
port, start = int(sys.argv[1]), int(sys.argv[2])
req = struct.pack(">hhih", 18, 0, 1, 0)  # ApiVersions v0, correlation 1, empty client id
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(struct.pack(">i", len(req)) + req)
        size = struct.unpack(">i", s.recv(4))[0]
        if size > 0: break
    except OSError:
        time.sleep(0.001)
print((time.time_ns() - start) / 1e6)
PY
)
rss() { awk '/VmRSS/ {print $2 / 1024}' /proc/$pid/status; }
idle_rss=$(rss)

prod=$("$floe" perf produce --bootstrap 127.0.0.1:$port --topic bench --records 300000 --record-size 1024 \
  --batch-bytes 65536 --inflight 16 --acks -1 2>/dev/null)
load_rss=$(rss)
"$floe" perf produce --bootstrap 127.0.0.1:$port --topic latency --records 1 --record-size 1 >/dev/null 2>&1
"$floe" perf consume --bootstrap 127.0.0.1:$port --topic latency --records 50001 --timeout-ms 5000 \
  >"$scratch/consume.out" 2>/dev/null &
consumer=$!
lat=$("$floe" perf produce --bootstrap 127.0.0.1:$port --topic latency --records 50000 --record-size 1024 \
  --batch-bytes 1024 --inflight 16 --throughput 5000 --acks -1 2>/dev/null)
wait $consumer || true
e2e=$(cat "$scratch/consume.out")

python3 - "$raw_mbs" "$loop_mbs" "$startup_ms" "$idle_rss" "$load_rss" "$prod" "$lat" "$e2e" <<'PY'
import re, sys
raw, loop, startup, idle, load, prod, lat, e2e = sys.argv[1:]
raw, loop = float(raw), float(loop)
mbs = float(re.search(r"\(([\d.]+) MB/sec\)", prod).group(1))
rps = float(re.search(r"([\d.]+) records/sec", prod).group(1))
p50 = re.search(r"([\d.]+) ms 50th", lat).group(1)
p99 = re.search(r"([\d.]+) ms 99th", lat).group(1)
print(f"machine: raw O_DIRECT write {raw:.0f} MB/s, loopback TCP {loop:.0f} MB/s")
print(f"startup: {float(startup):.1f} ms from exec to the first ApiVersions answer")
print(f"produce 1 KiB records, 16 partitions, acks=all: {rps:.0f} records/s, {mbs:.1f} MB/s = "
      f"{mbs / raw:.2f}x raw O_DIRECT, {mbs / loop:.3f}x loopback TCP")
print(f"ack latency at 5,000 records/s: p50 {p50} ms, p99 {p99} ms")
m = re.search(r"end-to-end latency ([\d.]+) ms 50th, ([\d.]+) ms 99th", e2e)
if m:
    print(f"end-to-end latency (produce to consumer receipt) at 5,000 records/s: p50 {m.group(1)} ms, p99 {m.group(2)} ms")
print(f"resident memory: {float(idle):.1f} MiB idle, {float(load):.1f} MiB after the load")
PY
