#!/usr/bin/python3
"""Capture golden request frames from real Kafka clients (dev tool; run once, not in CI).

A tiny fake broker on 127.0.0.1 answers just enough of the protocol (ApiVersions, Metadata,
Produce, ListOffsets, Fetch, FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetFetch,
OffsetCommit, LeaveGroup, InitProducerId) for real clients to get to the requests we want, and
records every request frame it receives (size prefix stripped: header + body). Each client
scenario (kcat, kafka-python, confluent-kafka, kafkajs; produce with each codec, consume,
consumer group) runs against a fresh broker; the first frame of each kind is saved as
  testdata/golden/<client>/<api>-v<version>[-<detail>].bin
and testdata/golden/MANIFEST.md lists every file with the client, versions and command.

Responses are encoded with scripts/golden/kafka_codec.py, driven by the Kafka JSON schemas
(--schemas, default /work/shared/kafka-protocol/schemas), so the broker answers whatever
version a client picks. Every saved frame is decoded and re-encoded by that codec as a
cross-check (the C++ tests in tests/protocol/golden_test.cc do the same with floe's codecs).

usage: /usr/bin/python3 scripts/capture-golden.py [--out DIR] [--only CLIENT[,CLIENT]] [--verify]
  --verify  only decode the committed frames and print them (no clients run).
Bounds: the broker listens on 127.0.0.1 only, each client run is killed after --timeout
seconds, each broker stops with its scenario.
"""
import argparse
import os
import re
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "golden"))
import kafka_codec  # noqa: E402
import record_batch  # noqa: E402

DEBIAN_PYTHON = "/usr/bin/python3"
TOPIC_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
NODE_ID = 1

API_NAMES = {
    0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 8: "offset_commit", 9: "offset_fetch",
    10: "find_coordinator", 11: "join_group", 12: "heartbeat", 13: "leave_group", 14: "sync_group",
    15: "describe_groups", 16: "list_groups", 17: "sasl_handshake", 18: "api_versions", 19: "create_topics",
    20: "delete_topics", 22: "init_producer_id", 29: "describe_acls", 32: "describe_configs",
    36: "sasl_authenticate", 48: "describe_client_quotas",
}

# What a Kafka 3.x broker advertises for the APIs clients use (plus a few admin APIs a real
# broker lists too: kafka-python infers the broker version from which keys are present).
MODERN = {
    0: (0, 11), 1: (0, 16), 2: (0, 7), 3: (0, 12), 8: (0, 8), 9: (0, 8), 10: (0, 4), 11: (0, 9),
    12: (0, 4), 13: (0, 5), 14: (0, 5), 15: (0, 5), 16: (0, 4), 17: (0, 1), 18: (0, 3), 19: (0, 7),
    20: (0, 6), 22: (0, 4), 29: (0, 3), 32: (0, 4), 36: (0, 2), 48: (0, 1),
}
# Roughly Kafka 2.0: every API below its flexible versions, so clients fall back to classic encodings.
OLD = {
    0: (0, 6), 1: (0, 8), 2: (0, 3), 3: (0, 6), 8: (0, 4), 9: (0, 4), 10: (0, 2), 11: (0, 3),
    12: (0, 2), 13: (0, 2), 14: (0, 2), 17: (0, 1), 18: (0, 2), 22: (0, 1),
}


class Close(Exception):
    """Raised by a handler to hang up on the client."""


class FakeBroker:
    def __init__(self, schemas, versions):
        self.schemas = schemas
        self.versions = versions
        self.frames = []  # (connection number, frame bytes) in arrival order
        self.lock = threading.Lock()
        self.next_offset = 0
        self.members = 0
        self.conns = 0
        broker = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                with broker.lock:
                    broker.conns += 1
                    conn = broker.conns
                self.request.settimeout(30)
                try:
                    while True:
                        size_raw = _recv_exact(self.request, 4)
                        if size_raw is None:
                            return
                        (size,) = struct.unpack(">i", size_raw)
                        if size < 0 or size > 64 << 20:
                            return
                        frame = _recv_exact(self.request, size)
                        if frame is None:
                            return
                        with broker.lock:
                            broker.frames.append((conn, frame))
                        out = broker.respond(frame)
                        if out is not None:
                            self.request.sendall(struct.pack(">i", len(out)) + out)
                except (Close, OSError):
                    return

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ responses
    def respond(self, frame):
        try:
            header, key, ver, body, trailing = kafka_codec.decode_request(self.schemas, frame)
        except Exception as e:  # noqa: BLE001 - a dev tool: report and hang up
            print(f"    broker: cannot decode frame {frame[:8].hex()}...: {e}", file=sys.stderr)
            raise Close()
        corr = header["CorrelationId"]
        if key == 18 and ver > self.versions[18][1]:
            # Unsupported ApiVersions version: answer v0 with UNSUPPORTED_VERSION and our list.
            return kafka_codec.encode_response(self.schemas, 18, 0, corr, self.api_versions_body(35))
        if key not in self.versions or not (self.versions[key][0] <= ver <= self.versions[key][1]):
            print(f"    broker: unadvertised api {key} v{ver}; hanging up", file=sys.stderr)
            raise Close()
        handler = getattr(self, "on_" + API_NAMES.get(key, "unknown"), None)
        if handler is None:
            print(f"    broker: no handler for api {key} ({API_NAMES.get(key)}); hanging up", file=sys.stderr)
            raise Close()
        resp = handler(ver, body)
        if resp is None:
            return None
        return kafka_codec.encode_response(self.schemas, key, ver, corr, resp)

    def api_versions_body(self, error=0):
        keys = [{"ApiKey": k, "MinVersion": lo, "MaxVersion": hi} for k, (lo, hi) in sorted(self.versions.items())]
        return {"ErrorCode": error, "ApiKeys": keys, "ThrottleTimeMs": 0}

    def on_api_versions(self, ver, body):
        return self.api_versions_body()

    def broker_entry(self):
        return {"NodeId": NODE_ID, "Host": "127.0.0.1", "Port": self.port, "Rack": None}

    def on_metadata(self, ver, body):
        topics = body.get("Topics")
        if topics is None or (ver == 0 and topics == []):
            names = ["golden"]
        else:
            names = [t.get("Name") or "golden" for t in topics]
        part = {"ErrorCode": 0, "PartitionIndex": 0, "LeaderId": NODE_ID, "LeaderEpoch": 0,
                "ReplicaNodes": [NODE_ID], "IsrNodes": [NODE_ID], "OfflineReplicas": []}
        return {
            "ThrottleTimeMs": 0, "Brokers": [self.broker_entry()], "ClusterId": "golden-cluster",
            "ControllerId": NODE_ID,
            "Topics": [{"ErrorCode": 0, "Name": n, "TopicId": TOPIC_ID, "IsInternal": False, "Partitions": [part],
                        "TopicAuthorizedOperations": -2147483648} for n in names],
        }

    def on_produce(self, ver, body):
        if body["Acks"] == 0:
            return None
        responses = []
        for t in body["TopicData"]:
            parts = []
            for p in t["PartitionData"]:
                recs = p.get("Records") or b""
                count = struct.unpack(">i", recs[57:61])[0] if len(recs) >= 61 else 0
                with self.lock:
                    base = self.next_offset
                    self.next_offset += count
                parts.append({"Index": p["Index"], "ErrorCode": 0, "BaseOffset": base, "LogAppendTimeMs": -1,
                              "LogStartOffset": 0})
            responses.append({"Name": t["Name"], "PartitionResponses": parts})
        return {"Responses": responses, "ThrottleTimeMs": 0}

    def on_list_offsets(self, ver, body):
        return {"ThrottleTimeMs": 0, "Topics": [
            {"Name": t["Name"], "Partitions": [
                {"PartitionIndex": p["PartitionIndex"], "ErrorCode": 0, "OldStyleOffsets": [0], "Timestamp": -1,
                 "Offset": 0, "LeaderEpoch": 0} for p in t["Partitions"]]} for t in body["Topics"]]}

    def on_fetch(self, ver, body):
        time.sleep(min(max(body["MaxWaitMs"], 0), 100) / 1000.0)
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "SessionId": 0, "Responses": [
            {"Topic": t.get("Topic"), "TopicId": t.get("TopicId", bytes(16)), "Partitions": [
                {"PartitionIndex": p["Partition"], "ErrorCode": 0, "HighWatermark": 0, "LastStableOffset": 0,
                 "LogStartOffset": 0, "AbortedTransactions": None, "PreferredReadReplica": -1, "Records": b""}
                for p in t["Partitions"]]} for t in body["Topics"]]}

    def on_find_coordinator(self, ver, body):
        keys = body.get("CoordinatorKeys") or [body.get("Key", "")]
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "ErrorMessage": None, "NodeId": NODE_ID, "Host": "127.0.0.1",
                "Port": self.port, "Coordinators": [
                    {"Key": k, "NodeId": NODE_ID, "Host": "127.0.0.1", "Port": self.port, "ErrorCode": 0,
                     "ErrorMessage": None} for k in keys]}

    def on_join_group(self, ver, body):
        member = body["MemberId"]
        if not member:
            with self.lock:
                self.members += 1
                member = f"golden-member-{self.members}"
        proto = body["Protocols"][0]
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "GenerationId": 1, "ProtocolType": body["ProtocolType"],
                "ProtocolName": proto["Name"], "Leader": member, "SkipAssignment": False, "MemberId": member,
                "Members": [{"MemberId": member, "GroupInstanceId": body.get("GroupInstanceId"),
                             "Metadata": proto["Metadata"]}]}

    def on_sync_group(self, ver, body):
        assignment = b""
        for a in body.get("Assignments") or []:
            if a["MemberId"] == body["MemberId"]:
                assignment = a["Assignment"]
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "ProtocolType": body.get("ProtocolType"),
                "ProtocolName": body.get("ProtocolName"), "Assignment": assignment}

    def on_heartbeat(self, ver, body):
        return {"ThrottleTimeMs": 0, "ErrorCode": 0}

    def on_leave_group(self, ver, body):
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "Members": [
            {"MemberId": m["MemberId"], "GroupInstanceId": m.get("GroupInstanceId"), "ErrorCode": 0}
            for m in body.get("Members") or []]}

    def on_offset_fetch(self, ver, body):
        def topics(ts):
            return [{"Name": t["Name"], "Partitions": [
                {"PartitionIndex": i, "CommittedOffset": -1, "CommittedLeaderEpoch": -1, "Metadata": "",
                 "ErrorCode": 0} for i in t["PartitionIndexes"]]} for t in ts or []]
        if ver >= 8:
            return {"ThrottleTimeMs": 0, "Groups": [
                {"GroupId": g["GroupId"], "Topics": topics(g["Topics"]), "ErrorCode": 0} for g in body["Groups"]]}
        return {"ThrottleTimeMs": 0, "Topics": topics(body.get("Topics")), "ErrorCode": 0}

    def on_offset_commit(self, ver, body):
        return {"ThrottleTimeMs": 0, "Topics": [
            {"Name": t["Name"], "Partitions": [{"PartitionIndex": p["PartitionIndex"], "ErrorCode": 0}
                                               for p in t["Partitions"]]} for t in body["Topics"]]}

    def on_init_producer_id(self, ver, body):
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "ProducerId": 4242, "ProducerEpoch": 0}


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


# ---------------------------------------------------------------------- scenarios
RECORD_LINES = b"".join(b"key-%d:value-%d\n" % (i, i) for i in range(3))
JS_DIR = os.path.join(ROOT, "tests", "clients")
PY_DRIVER = os.path.join(HERE, "golden", "drive_python_clients.py")


def scenarios():
    """(client dir, scenario name, broker profile, detail for Produce frames, argv builder, stdin bytes)."""
    out = []
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        out.append(("kcat", f"produce-{codec}", "modern", codec,
                    lambda b, c=codec: ["kcat", "-b", b, "-P", "-t", "golden", "-p", "0", "-K", ":", "-H", "h1=v1",
                                        "-z", c, "-X", "client.id=golden-kcat", "-X", "linger.ms=100"],
                    RECORD_LINES))
    out.append(("kcat", "consume", "modern", None,
                lambda b: ["kcat", "-b", b, "-C", "-t", "golden", "-p", "0", "-o", "beginning", "-e",
                           "-X", "client.id=golden-kcat", "-X", "fetch.wait.max.ms=100"], None))
    out.append(("kcat", "group", "modern", None,
                lambda b: ["kcat", "-b", b, "-G", "golden-group", "golden", "-e",
                           "-X", "client.id=golden-kcat", "-X", "fetch.wait.max.ms=100"], None))
    out.append(("kcat", "produce-gzip-old-broker", "old", "gzip",
                lambda b: ["kcat", "-b", b, "-P", "-t", "golden", "-p", "0", "-K", ":", "-H", "h1=v1",
                           "-z", "gzip", "-X", "client.id=golden-kcat", "-X", "linger.ms=100"], RECORD_LINES))
    out.append(("kcat", "consume-old-broker", "old", None,
                lambda b: ["kcat", "-b", b, "-C", "-t", "golden", "-p", "0", "-o", "beginning", "-e",
                           "-X", "client.id=golden-kcat", "-X", "fetch.wait.max.ms=100"], None))
    out.append(("kcat", "group-old-broker", "old", None,
                lambda b: ["kcat", "-b", b, "-G", "golden-group", "golden", "-e",
                           "-X", "client.id=golden-kcat", "-X", "fetch.wait.max.ms=100"], None))
    out.append(("confluent-kafka", "produce-idempotent-zstd", "modern", "zstd-idempotent",
                lambda b: [DEBIAN_PYTHON, PY_DRIVER, "confluent", "produce", "zstd", b], None))
    out.append(("confluent-kafka", "group", "modern", None,
                lambda b: [DEBIAN_PYTHON, PY_DRIVER, "confluent", "group", "none", b], None))
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        out.append(("kafka-python", f"produce-{codec}", "modern", codec,
                    lambda b, c=codec: [DEBIAN_PYTHON, PY_DRIVER, "kafka-python", "produce", c, b], None))
    out.append(("kafka-python", "consume", "modern", None,
                lambda b: [DEBIAN_PYTHON, PY_DRIVER, "kafka-python", "consume", "none", b], None))
    out.append(("kafka-python", "group", "modern", None,
                lambda b: [DEBIAN_PYTHON, PY_DRIVER, "kafka-python", "group", "none", b], None))
    for codec in ["none", "gzip", "snappy"]:
        out.append(("kafkajs", f"produce-{codec}", "modern", codec,
                    lambda b, c=codec: ["node", os.path.join(JS_DIR, "kafkajs-golden.js"), b, "produce", c], None))
    out.append(("kafkajs", "group", "modern", None,
                lambda b: ["node", os.path.join(JS_DIR, "kafkajs-golden.js"), b, "group"], None))
    return out


def client_versions():
    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    kcat = run(["kcat", "-V"])
    kcat_v = next((line.strip() for line in kcat.splitlines() if line.strip().startswith("Version")), "?")
    return {
        "kcat": f"kcat {kcat_v.split()[1] if kcat_v != '?' else '?'} (librdkafka "
                + run([DEBIAN_PYTHON, "-c", "import confluent_kafka as c; print(c.libversion()[0])"]) + ")",
        "confluent-kafka": "confluent-kafka " + run([DEBIAN_PYTHON, "-c", "import confluent_kafka as c; "
                                                     "print(c.version()[0], '(librdkafka', c.libversion()[0] + ')')"]),
        "kafka-python": "kafka-python " + run([DEBIAN_PYTHON, "-c", "import kafka; print(kafka.__version__)"]),
        "kafkajs": "kafkajs " + run(["node", "-p", f"require('{JS_DIR}/node_modules/kafkajs/package.json').version"]),
    }


def frame_detail(key, version, body, produce_detail):
    if key == 0:
        return produce_detail
    if key == 3:
        topics = body.get("Topics")
        # v0 has no null array: an empty topic list there means "all topics".
        if topics is None or (topics == [] and version == 0):
            return "all-topics"
        return "no-topics" if topics == [] else None
    return None


def run_scenario(schemas, sc, out_dir, timeout_s, saved, manifest, versions_by_client):
    client, name, profile, produce_detail, argv_fn, stdin = sc
    with FakeBroker(schemas, MODERN if profile == "modern" else OLD) as broker:
        argv = argv_fn(f"127.0.0.1:{broker.port}")
        print(f"[{client}] {name}: {' '.join(argv[1:] if argv[0] == DEBIAN_PYTHON else argv)}")
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=ROOT)
        try:
            _, err = proc.communicate(stdin or b"", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            print(f"    (stopped after {timeout_s}s)")
        if err and (proc.returncode not in (0, -15) or os.environ.get("GOLDEN_VERBOSE")):
            print("    client stderr: " + err.decode(errors="replace").strip().replace("\n", "\n    "))
        time.sleep(0.2)
        frames = list(broker.frames)
    cmd = " ".join("<broker>" if a.startswith("127.0.0.1:") else os.path.relpath(a, ROOT) if a.startswith(ROOT)
                   else a for a in argv)
    if stdin:
        cmd = f"printf '{stdin.decode().replace(chr(10), chr(92) + 'n')}' | " + cmd
    os.makedirs(os.path.join(out_dir, client), exist_ok=True)
    for _, frame in frames:
        header, key, ver, body, trailing = kafka_codec.decode_request(schemas, frame)
        detail = frame_detail(key, ver, body, produce_detail)
        fname = f"{API_NAMES.get(key, 'api%d' % key)}-v{ver}" + (f"-{detail}" if detail else "") + ".bin"
        rel = f"{client}/{fname}"
        if rel in saved:
            continue
        hv = schemas.request_header_version(key, ver)
        again = kafka_codec.encode_request(schemas, key, ver, header, body)
        same = "yes" if again == frame and trailing == 0 else "NO"
        saved.add(rel)
        with open(os.path.join(out_dir, rel), "wb") as f:
            f.write(frame)
        manifest.append((rel, versions_by_client[client], key, API_NAMES.get(key, "?"), ver, hv,
                         header["CorrelationId"], header.get("ClientId"), len(frame), profile, same, cmd))
        print(f"    saved {rel} ({len(frame)} bytes, python re-encode identical: {same})")


MANIFEST_HEAD = """# Golden request frames from real Kafka clients

Each `.bin` file is one request frame exactly as a real client sent it, without the 4-byte
size prefix (request header + body). Captured by `scripts/capture-golden.py` against its fake
broker on 127.0.0.1 (a dev tool, run once; tests only read these files). Broker profile
`modern` advertises Kafka 3.x maxima (Produce 11, Fetch 16, Metadata 12, ApiVersions 3,
FindCoordinator 4, JoinGroup 9, SyncGroup 5, Heartbeat 4, OffsetCommit 8, OffsetFetch 8,
ListOffsets 7, InitProducerId 4, LeaveGroup 5) so clients use their highest versions; `old`
advertises roughly Kafka 2.0 (nothing flexible), so clients fall back to classic encodings.

Fixed content: topic `golden`, partition 0, records `key-<i>`/`value-<i>` for i in 0..2
(kafka-python: 0..9, because it sends a batch uncompressed when compression does not shrink
it), header `h1=v1` on every record, timestamp 1700000000000 where the client can set it (not
kcat: wall clock), consumer group `golden-group`.
`<broker>` in a command is the fake broker's `127.0.0.1:<port>`. "py re-encode" says whether
the schema-driven Python codec (scripts/golden/kafka_codec.py) re-encodes the decoded frame to
identical bytes.

| file | client | api key | api | version | header v | corr id | client id | bytes | broker | py re-encode | command |
|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def write_manifest(out_dir, manifest, clients):
    path = os.path.join(out_dir, "MANIFEST.md")
    rows = {}
    if os.path.exists(path):  # keep rows of clients not captured in this run
        for line in open(path):
            m = re.match(r"\| ([^ /|]+)/(\S+) \|", line)
            if m and m.group(1) not in clients:
                rows[m.group(1) + "/" + m.group(2)] = line
    for row in manifest:
        cells = [str(c) for c in row[:-1]] + [f"`{row[-1]}`"]
        rows[row[0]] = "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |\n"
    with open(path, "w") as f:
        f.write(MANIFEST_HEAD)
        for k in sorted(rows):
            f.write(rows[k])


def verify(schemas, out_dir):
    bad = 0
    for client in sorted(os.listdir(out_dir)):
        d = os.path.join(out_dir, client)
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            frame = open(os.path.join(d, fn), "rb").read()
            header, key, ver, body, trailing = kafka_codec.decode_request(schemas, frame)
            again = kafka_codec.encode_request(schemas, key, ver, header, body)
            ok = again == frame and trailing == 0
            bad += 0 if ok else 1
            print(f"{client}/{fn}: {'ok' if ok else 'MISMATCH'} header={header}")
            print(f"    body={_short(body)}")
            if key == 0:
                for t in body["TopicData"]:
                    for p in t["PartitionData"]:
                        for b in record_batch.decode_batches(p["Records"] or b""):
                            recs = b.pop("records")
                            print(f"    batch={_short(b)}")
                            for r in recs or []:
                                print(f"      record={_short(r)}")
    return bad


def _short(x):
    if isinstance(x, bytes):
        return x.hex() if len(x) <= 24 else f"<{len(x)} bytes {x[:16].hex()}...>"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in x.items()) + "}"
    if isinstance(x, list):
        return "[" + ", ".join(_short(v) for v in x) + "]"
    return repr(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "testdata", "golden"))
    ap.add_argument("--schemas", default="/work/shared/kafka-protocol/schemas")
    ap.add_argument("--only", default="", help="comma-separated client dirs (kcat,kafka-python,...)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per client run")
    ap.add_argument("--verify", action="store_true")
    args = ap.parse_args()
    schemas = kafka_codec.Schemas(args.schemas)
    if args.verify:
        sys.exit(1 if verify(schemas, args.out) else 0)
    only = set(filter(None, args.only.split(",")))
    versions = client_versions()
    saved, manifest = set(), []
    clients = {sc[0] for sc in scenarios() if not only or sc[0] in only}
    for client in clients:  # a client's frames are replaced as a whole
        d = os.path.join(args.out, client)
        for fn in os.listdir(d) if os.path.isdir(d) else []:
            if fn.endswith(".bin"):
                os.remove(os.path.join(d, fn))
    for sc in scenarios():
        if only and sc[0] not in only:
            continue
        run_scenario(schemas, sc, args.out, args.timeout, saved, manifest, versions)
    write_manifest(args.out, manifest, clients)
    print(f"{len(manifest)} frames saved; manifest: {os.path.join(args.out, 'MANIFEST.md')}")


if __name__ == "__main__":
    main()
