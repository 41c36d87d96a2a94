#!/usr/bin/python3
"""Hostile and broken clients on raw sockets against floe. After every case a well-behaved client
(an ApiVersions v0 request on a fresh connection, and `kcat -L`) still works and the process is alive.

Cases: garbage frames; a negative size; a size below the minimal header; a frame truncated by the
sender (size promises more than arrives, then the sender closes or stays silent); requests whose body
is cut short or whose lengths/array counts lie (2^31-1 topics); an unknown API key; Produce v99;
ApiVersions v99 (must answer a v0 body: UNSUPPORTED_VERSION 35 plus the API list); a size prefix
above socket.request.max.bytes (closed without reading or allocating it); a valid request pipelined
ahead of garbage is still answered; Produce of record batches with a bad CRC, magic, record count
or length is refused (CRC: CORRUPT_MESSAGE 2) and nothing of them is stored; 10,000 idle connections (fd limit permitting, else as many as fit;
at least 2,000); connections.max.idle.ms closes idle connections.
"""

import os
import random
import resource
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

MAX_REQUEST_BYTES = 1 << 20      # socket.request.max.bytes for this run (default is 100 MiB)
IDLE_CONNECTIONS = 10_000


def connect(timeout_s=5):
    host, port = broker.bootstrap.split(":")
    s = socket.create_connection((host, int(port)), timeout=timeout_s)
    return s


def outcome(sock, timeout_s=5):
    """'closed', ('answer', frame) or 'silent' (nothing within timeout_s)."""
    sock.settimeout(timeout_s)
    try:
        head = sock.recv(4)
    except socket.timeout:
        return "silent"
    except ConnectionResetError:
        return "closed"
    if not head:
        return "closed"
    try:
        head += L.recv_exact(sock, 4 - len(head))
        (size,) = struct.unpack(">i", head)
        return ("answer", L.recv_exact(sock, size))
    except (ConnectionError, socket.timeout):
        return "closed"


def api_versions_v0(sock, correlation_id=1):
    sock.sendall(L.kafka_request(18, 0, correlation_id))
    resp = L.recv_frame(sock)
    corr, err, n = struct.unpack(">ihi", resp[:10])
    L.expect(corr == correlation_id and err == 0 and n > 5, "ApiVersions v0: corr %d err %d, %d apis" % (corr, err, n))
    return resp


def healthy(label):
    """A well-behaved client still gets answers and the process is alive."""
    L.expect(broker.alive(), "%s: floe exited (rc %s)" % (label, broker.proc and broker.proc.poll()))
    with connect() as s:
        api_versions_v0(s)
    p = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-m", "10"], capture_output=True, text=True, timeout=30)
    L.expect(p.returncode == 0 and "broker 1 at" in p.stdout, "%s: kcat -L afterwards: %s %s" % (label, p.stdout, p.stderr))


def expect_closed(sock, label, timeout_s=5):
    o = outcome(sock, timeout_s)
    L.expect(o == "closed", "%s: expected the connection closed, got %s" % (label, o if isinstance(o, str) else
                                                                            ("answer of %d bytes" % len(o[1]))))


def case(label, fn):
    def run():
        fn()
        healthy(label)
    results.check(label, run)


# ---- cases -----------------------------------------------------------------------------------------

def garbage_frames():
    rnd = random.Random(1)
    closed = answered = 0
    for i in range(200):
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(8, 300)))
        with connect() as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            o = outcome(s, 5)
            L.expect(o != "silent", "garbage frame %d: no answer and no close within 5 s" % i)
            if o == "closed":
                closed += 1
            else:
                answered += 1
    # Raw noise with no framing at all.
    for i in range(20):
        with connect() as s:
            try:
                s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 4000))))
                s.shutdown(socket.SHUT_WR)
            except OSError:
                continue  # already closed by floe on the first bad size prefix
            L.expect(outcome(s, 5) != "silent", "unframed noise %d: connection neither closed nor answered" % i)
    print("   200 random frames: %d closed, %d answered (with an error)" % (closed, answered))


def negative_size():
    for size in (-1, -2 ** 31, 0, 3):
        with connect() as s:
            s.sendall(struct.pack(">i", size) + b"\x00" * 16)
            expect_closed(s, "size %d" % size)


def truncated_by_sender():
    # Promises 100 bytes, sends 20, closes: the broker drops it.
    with connect() as s:
        s.sendall(struct.pack(">i", 100) + L.kafka_request(18, 0, 1)[4:] + b"\x00" * 4)
        s.shutdown(socket.SHUT_WR)
        expect_closed(s, "half a frame then EOF")
    # Promises 100 bytes, sends 20, stays: nothing is answered (it waits), others are unaffected.
    s = connect()
    s.sendall(struct.pack(">i", 100) + b"\x00" * 20)
    L.expect(outcome(s, 1) == "silent", "answered a frame that has not fully arrived")
    healthy("while a half-sent frame waits")
    s.close()
    # The size prefix itself cut short.
    with connect() as s:
        s.sendall(b"\x00\x00")
        s.shutdown(socket.SHUT_WR)
        expect_closed(s, "two bytes of a size prefix then EOF")


def lying_bodies():
    # Metadata v1 with a topic count of 2^31-1 and no topics: must not allocate or hang.
    cases = {
        "Metadata v1, 2^31-1 topics, none sent": L.kafka_request(3, 1, 5, struct.pack(">i", 2 ** 31 - 1)),
        "Metadata v1, body cut inside a topic name": L.kafka_request(3, 1, 5, struct.pack(">ih", 1, 200) + b"abc"),
        "Produce v7, empty body": L.kafka_request(0, 7, 5, b""),
        "Produce v7, records length 2^31-1": L.kafka_request(
            0, 7, 5, struct.pack(">hhii", -1, -1, 1000, 1) + struct.pack(">h", 1) + b"t" + struct.pack(">i", 1) +
            struct.pack(">ii", 0, 2 ** 31 - 1) + b"\x00" * 10),
        "Fetch v11, partitions count -5": L.kafka_request(
            1, 11, 5, struct.pack(">iiiibii", -1, 100, 1, 1024, 0, 0, -1) + struct.pack(">i", 1) +
            struct.pack(">h", 1) + b"t" + struct.pack(">i", -5)),
        "client id longer than the frame": struct.pack(">i", 12) + struct.pack(">hhih", 18, 0, 5, 30000) + b"ab",
        "CreateTopics v5 (flexible), compact array varint overflow": L.kafka_request(
            19, 5, 5, b"\xff\xff\xff\xff\xff\xff\x01", flexible=True),
        "JoinGroup v5, protocol metadata length 2^31-1": L.kafka_request(
            11, 5, 5, struct.pack(">h", 1) + b"g" + struct.pack(">ii", 10000, 10000) + struct.pack(">h", 0) +
            struct.pack(">h", -1) + struct.pack(">h", 8) + b"consumer" + struct.pack(">i", 1) + struct.pack(">h", 5) +
            b"range" + struct.pack(">i", 2 ** 31 - 1)),
    }
    for label, frame in cases.items():
        with connect() as s:
            s.sendall(frame)
            o = outcome(s, 5)
            L.expect(o != "silent", "%s: neither answered nor closed within 5 s" % label)
            if o != "closed":
                corr, = struct.unpack(">i", o[1][:4])
                L.expect(corr == 5, "%s: answer has correlation id %d" % (label, corr))
            print("   %s: %s" % (label, o if o == "closed" else "answered (%d bytes)" % len(o[1])))
        L.expect(broker.alive(), "%s: floe exited" % label)


def unknown_api_key():
    for key in (999, 32767, -1, 1000):
        with connect() as s:
            s.sendall(L.kafka_request(key, 0, 9))
            o = outcome(s, 5)
            L.expect(o == "closed" or struct.unpack(">i", o[1][:4])[0] == 9,
                     "api key %d: %s" % (key, o))
            print("   api key %d: %s" % (key, o if o == "closed" else "answered"))


def produce_v99():
    with connect() as s:
        s.sendall(L.kafka_request(0, 99, 11, b"\x00" * 30))
        o = outcome(s, 5)
        if o != "closed":
            corr, err = struct.unpack(">ih", o[1][:6])
            L.expect(corr == 11, "Produce v99 answer correlation %d" % corr)
        print("   Produce v99: %s" % (o if o == "closed" else "answered"))


def api_versions_v99():
    for version in (99, 32767, 5):
        with connect() as s:
            # A future client: flexible header (v2) and a body this broker cannot parse.
            s.sendall(L.kafka_request(18, version, 21, b"\x07future\x021\x00\x00", flexible=True))
            o = outcome(s, 5)
            L.expect(o != "closed" and o != "silent", "ApiVersions v%d: %s (must answer)" % (version, o))
            resp = o[1]
            corr, err, n = struct.unpack(">ihi", resp[:10])
            L.expect(corr == 21, "ApiVersions v%d: correlation %d" % (version, corr))
            L.expect(err == 35, "ApiVersions v%d: error %d, want 35 UNSUPPORTED_VERSION" % (version, err))
            L.expect(0 < n < 1000 and len(resp) >= 10 + 6 * n, "ApiVersions v%d: %d apis in %d bytes (v0 body)" % (
                version, n, len(resp)))
            apis = {}
            for i in range(n):
                k, lo, hi = struct.unpack(">hhh", resp[10 + 6 * i:16 + 6 * i])
                apis[k] = (lo, hi)
            L.expect(18 in apis and apis[18][1] >= 3, "ApiVersions v%d: list lacks ApiVersions v3+: %s" % (version, apis.get(18)))
            L.expect(0 in apis and 1 in apis and 3 in apis, "ApiVersions v%d: list lacks Produce/Fetch/Metadata" % version)
            # The connection stays usable: a v0 request on it is answered.
            api_versions_v0(s, 22)
    print("   ApiVersions v99/v32767/v5 -> v0 body, error 35, %d apis; connection stays open" % n)


def above_max_request_bytes():
    rss_before = broker_rss_kib()
    for size in (MAX_REQUEST_BYTES + 1, 200 << 20, 2 ** 31 - 1):
        with connect() as s:
            s.sendall(struct.pack(">i", size) + L.kafka_request(18, 0, 1)[4:])
            expect_closed(s, "size %d above socket.request.max.bytes %d" % (size, MAX_REQUEST_BYTES))
    # Exactly at the limit is read (then rejected as garbage or answered): not closed for its size alone.
    with connect() as s:
        body = L.kafka_request(18, 0, 3)[4:]
        body += b"\x00" * (MAX_REQUEST_BYTES - len(body))
        s.sendall(struct.pack(">i", MAX_REQUEST_BYTES) + body)
        o = outcome(s, 10)
        L.expect(o != "silent", "a frame of exactly socket.request.max.bytes: no answer within 10 s")
        print("   frame of exactly %d bytes: %s" % (MAX_REQUEST_BYTES, o if isinstance(o, str) else "answered"))
    rss_after = broker_rss_kib()
    L.expect(rss_after - rss_before < 64 * 1024, "floe RSS grew %d KiB after oversize prefixes" % (rss_after - rss_before))


def pipelined_valid_then_garbage():
    with connect() as s:
        s.sendall(L.kafka_request(18, 0, 31) + L.kafka_request(3, 1, 32, struct.pack(">i", 0)) +
                  struct.pack(">i", -7))
        o = outcome(s, 5)
        L.expect(o not in ("closed", "silent") and struct.unpack(">i", o[1][:4])[0] == 31,
                 "first pipelined request not answered: %s" % (o,))
        o = outcome(s, 5)
        L.expect(o not in ("closed", "silent") and struct.unpack(">i", o[1][:4])[0] == 32,
                 "second pipelined request not answered: %s" % (o,))
        expect_closed(s, "garbage after two valid requests")


# ---- record batches with valid framing but bad content -----------------------------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(n):
    n = (n << 1) ^ (n >> 63)   # zigzag
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def record(offset_delta, key, value):
    body = b"\x00" + varint(0) + varint(offset_delta) + varint(len(key)) + key + varint(len(value)) + value + varint(0)
    return varint(len(body)) + body


def record_batch(values, magic=2, crc_delta=0, count=None, length_delta=0):
    """A v2 record batch (no compression, no producer id) of the given values."""
    recs = b"".join(record(i, b"k%d" % i, v) for i, v in enumerate(values))
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, 1700000000000, 1700000000000, -1, -1, -1,
                            len(values) if count is None else count) + recs
    crc = (crc32c(after_crc) + crc_delta) & 0xFFFFFFFF
    after_length = struct.pack(">ibI", -1, magic, crc) + after_crc
    return struct.pack(">qi", 0, len(after_length) + length_delta) + after_length


def produce_v3(topic, partition, records, correlation_id=50):
    """Produce v3 with acks=-1; returns the partition's error code (or 'closed')."""
    t = topic.encode()
    body = struct.pack(">hhi", -1, -1, 10000) + struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">i", partition) + struct.pack(">i", len(records)) + records
    with connect() as s:
        s.sendall(L.kafka_request(0, 3, correlation_id, body))
        o = outcome(s, 10)
    if o in ("closed", "silent"):
        return o
    resp = o[1]
    corr, n_topics = struct.unpack(">ii", resp[:8])
    L.expect(corr == correlation_id and n_topics == 1, "Produce v3 answer: corr %d, %d topics" % (corr, n_topics))
    (name_len,) = struct.unpack(">h", resp[8:10])
    pos = 10 + name_len
    n_parts, index, err = struct.unpack(">iih", resp[pos:pos + 10])
    return err


def consume_values(topic, partition):
    p = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", topic, "-p", str(partition), "-o", "beginning",
                        "-e", "-q", "-f", "%s\n"], capture_output=True, text=True, timeout=30)
    L.expect(p.returncode == 0, "kcat consume %s/%d: %s" % (topic, partition, p.stderr))
    return p.stdout.splitlines()


def corrupt_batches():
    topic = "bad-batches"
    subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-t", topic], capture_output=True, timeout=30)  # auto-create
    err = produce_v3(topic, 0, record_batch([b"first"]))
    L.expect(err == 0, "a well-formed batch was refused: %s (test builder broken?)" % err)
    cases = [
        ("CRC off by one", record_batch([b"bad-crc"], crc_delta=1), (2,)),
        ("magic 1 header with v2 layout", record_batch([b"bad-magic"], magic=1), None),
        ("magic 3", record_batch([b"magic3"], magic=3), None),
        ("record count 1000, one record", record_batch([b"bad-count"], count=1000), None),
        ("record count 0, one record", record_batch([b"zero-count"], count=0), None),
        ("batch length beyond the records bytes", record_batch([b"long"], length_delta=40), None),
        ("batch length short by 5", record_batch([b"short"], length_delta=-5), None),
        ("records field of 7 bytes", b"\x00" * 7, None),
    ]
    for label, batch, want in cases:
        err = produce_v3(topic, 0, batch)
        L.expect(err not in (0, "silent"), "%s: accepted (error %s)" % (label, err))
        if want is not None and err != "closed":
            L.expect(err in want, "%s: error %s, want one of %s" % (label, err, want))
        print("   %s: %s" % (label, "connection closed" if err == "closed" else "error %d" % err))
        L.expect(broker.alive(), "%s: floe exited" % label)
    L.expect(produce_v3(topic, 0, record_batch([b"last"])) == 0, "a well-formed batch after the bad ones was refused")
    vals = consume_values(topic, 0)
    L.expect(vals == ["first", "last"], "partition holds %s, want only the two good records" % vals)


def broker_rss_kib():
    with open("/proc/%d/status" % broker.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def broker_fd_limit():
    with open("/proc/%d/limits" % broker.proc.pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return 1024


def many_idle_connections():
    ours = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    theirs = broker_fd_limit()
    target = min(IDLE_CONNECTIONS, ours - 200, theirs - 200)
    if target < 2000:
        raise L.Skip("fd limits too low for 2,000 idle connections (ours %d, floe's %d)" % (ours, theirs))
    if target < IDLE_CONNECTIONS:
        print("   fd limits (ours %d, floe's %d) allow %d of the %d idle connections" % (ours, theirs, target, IDLE_CONNECTIONS))
    rss_before = broker_rss_kib()
    socks = []
    t0 = time.monotonic()
    try:
        for _ in range(target):
            socks.append(connect(10))
        took = time.monotonic() - t0
        time.sleep(0.5)
        healthy("with %d idle connections" % len(socks))
        # Some of them still work: a request on the first, middle and last.
        for i in (0, len(socks) // 2, len(socks) - 1):
            api_versions_v0(socks[i], 40 + i)
        rss = broker_rss_kib()
        print("   %d idle connections opened in %.1f s; floe RSS %d -> %d MiB (%.1f KiB per connection)" % (
            len(socks), took, rss_before // 1024, rss // 1024, (rss - rss_before) / max(1, len(socks))))
    finally:
        for s in socks:
            s.close()
    time.sleep(0.5)


def idle_timeout_closes():
    with L.Broker(overrides={"connections.max.idle.ms": "500"}) as b2:
        host, port = b2.bootstrap.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            t0 = time.monotonic()  # before the request: the idle clock starts after it, however slow we are
            s.sendall(L.kafka_request(18, 0, 1))
            L.recv_frame(s)
            o = outcome(s, 30)
            took = time.monotonic() - t0
            L.expect(o == "closed", "idle connection not closed within 30 s: %s" % (o,))
            L.expect(took >= 0.3, "idle connection closed after %.2f s, before connections.max.idle.ms 500" % took)
            print("   closed after %.2f s idle (connections.max.idle.ms=500)" % took)


# Raise our soft fd limit before starting floe, which inherits it.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < IDLE_CONNECTIONS + 300 and _hard > _soft:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, IDLE_CONNECTIONS + 300), _hard))

results = L.Results("test_kafka_bad_input")
broker = L.Broker(overrides={"socket.request.max.bytes": str(MAX_REQUEST_BYTES)})
try:
    broker.start()
    results.check("healthy at start", healthy, "start")
    case("garbage frames (200 random) and unframed noise", garbage_frames)
    case("negative, zero and too-small sizes close the connection", negative_size)
    case("frames truncated by the sender", truncated_by_sender)
    case("bodies that lie about lengths and counts", lying_bodies)
    case("unknown API keys", unknown_api_key)
    case("Produce v99", produce_v99)
    case("ApiVersions v99 answers v0 with UNSUPPORTED_VERSION and the API list", api_versions_v99)
    case("size above socket.request.max.bytes closes without allocating", above_max_request_bytes)
    case("valid requests pipelined ahead of garbage are answered", pipelined_valid_then_garbage)
    case("record batches with bad CRC, magic, counts or lengths are refused, none stored", corrupt_batches)
    case("%d idle connections (fd limit permitting)" % IDLE_CONNECTIONS, many_idle_connections)
    results.check("connections.max.idle.ms closes an idle connection", idle_timeout_closes)
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
