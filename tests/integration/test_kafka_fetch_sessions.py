#!/usr/bin/python3
"""Incremental fetch sessions (KIP-227, Fetch v12 flexible) on raw sockets: none of the Debian/npm
clients here opens a session (librdkafka 2.0.2, kafka-python 2.0.2 and kafkajs send session 0 /
epoch -1), while the Java client always does, so this test plays its part.

Promises checked:
- id 0 / epoch 0 opens a session: a non-zero id is answered, and the full answer has every partition;
- an incremental fetch (id N, next epoch) names only partitions whose position changed and is
  answered only partitions with news: nothing when nothing happened, the new records of a partition
  the request did not even name, a moved high watermark;
- a wrong epoch is INVALID_FETCH_SESSION_EPOCH (71), an unknown id FETCH_SESSION_ID_NOT_FOUND (70),
  both at top level, and the session still works afterwards with the right epoch;
- forgotten partitions leave the session (their news is no longer sent);
- epoch -1 closes the session (id 0 answered, full fetch); id 0 / epoch -1 stays sessionless;
- 1,200 sessions: all answered, the cache stays bounded;
- a session id from before a broker restart does not land in another client's new session.
"""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "sessions"
FETCH_VERSION = 12
INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_ID_NOT_FOUND = 71, 70


# ---- flexible encoding -------------------------------------------------------------------------------

def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items):
    return uvarint(len(items) + 1) + b"".join(items)


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def uvarint(self):
        shift = result = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def cstr(self):
        n = self.uvarint() - 1
        s = self.data[self.pos:self.pos + max(n, 0)].decode()
        self.pos += max(n, 0)
        return s

    def cbytes(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()


def record_count(records):
    """Records in a v2 record-batch blob (sum of each batch's count)."""
    n, pos = 0, 0
    while records and pos + 61 <= len(records):
        (length,) = struct.unpack_from(">i", records, pos + 8)
        (count,) = struct.unpack_from(">i", records, pos + 57)
        n += count
        pos += 12 + length
    return n


def fetch(sock, session_id, epoch, partitions, forgotten=(), max_wait_ms=100, corr=[100]):
    """partitions: {p: fetch_offset}. Returns (error, session_id, {p: (error, hwm, log_start, n_records)})."""
    corr[0] += 1
    parts = [struct.pack(">iiqiqi", p, -1, off, -1, -1, 1 << 20) + uvarint(0) for p, off in sorted(partitions.items())]
    topics = [cstr(TOPIC) + carray(parts) + uvarint(0)] if partitions else []
    forgot = [cstr(TOPIC) + carray([struct.pack(">i", p) for p in forgotten]) + uvarint(0)] if forgotten else []
    body = struct.pack(">iiiibii", -1, max_wait_ms, 1, 50 << 20, 0, session_id, epoch)
    body += carray(topics) + carray(forgot) + cstr("") + uvarint(0)
    sock.sendall(L.kafka_request(1, FETCH_VERSION, corr[0], body, flexible=True))
    r = Reader(L.recv_frame(sock))
    L.expect(r.take(">i") == corr[0], "correlation id")
    r.tags()                                    # response header v1
    r.take(">i")                                # throttle
    err, sid = r.take(">hi")
    out = {}
    for _ in range(r.uvarint() - 1):
        name = r.cstr()
        for _ in range(r.uvarint() - 1):
            p, perr, hwm, _lso, log_start = r.take(">ihqqq")
            aborted = r.uvarint() - 1
            for _ in range(max(aborted, 0)):
                r.take(">qq")
                r.tags()
            r.take(">i")                        # preferred read replica
            records = r.cbytes()
            r.tags()
            L.expect(name == TOPIC, "answer names topic %r" % name)
            out[p] = (perr, hwm, log_start, record_count(records or b""))
        r.tags()
    return err, sid, out


def produce(partition, n):
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(n):
        p.produce(TOPIC, b"r%d" % i, partition=partition)
    L.expect(p.flush(30) == 0, "records not delivered")


def connect():
    host, port = broker.bootstrap.split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def session_lifecycle():
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])[TOPIC].result(timeout=20)
    produce(0, 3)
    with connect() as s:
        # Open: full fetch of p0..p2 from 0.
        err, sid, parts = fetch(s, 0, 0, {0: 0, 1: 0, 2: 0})
        L.expect(err == 0, "opening fetch: error %d" % err)
        if sid == 0:
            raise L.Skip("the broker declined to open a session (session id 0): sessions not served")
        L.expect(sorted(parts) == [0, 1, 2], "full answer has partitions %s" % sorted(parts))
        L.expect(parts[0][3] == 3 and parts[0][1] == 3, "p0 in the full answer: %s" % (parts[0],))
        print("   session %d opened; full answer %s" % (sid, parts))

        # Epoch 1: p0 moved to 3 (we consumed it); nothing new anywhere -> no partitions.
        err, sid1, parts = fetch(s, sid, 1, {0: 3})
        L.expect(err == 0 and sid1 == sid, "epoch 1: error %d, session %d" % (err, sid1))
        L.expect(parts == {}, "epoch 1 with no news answered %s" % parts)

        # News on p1, which this request does not name: it is answered from the session's position.
        produce(1, 2)
        err, _, parts = fetch(s, sid, 2, {})
        L.expect(err == 0 and sorted(parts) == [1], "epoch 2 after producing to p1 answered %s (error %d)" % (parts, err))
        L.expect(parts[1][3] == 2 and parts[1][1] == 2, "p1's news: %s" % (parts[1],))

        # A wrong epoch and an unknown id are top-level errors; the session survives them.
        err, _, parts = fetch(s, sid, 7, {})
        L.expect(err == INVALID_FETCH_SESSION_EPOCH and parts == {}, "wrong epoch: error %d, %s" % (err, parts))
        err, _, parts = fetch(s, sid ^ 0x5A5A5A, 1, {})
        L.expect(err == FETCH_SESSION_ID_NOT_FOUND and parts == {}, "unknown session: error %d, %s" % (err, parts))
        err, _, parts = fetch(s, sid, 3, {1: 2})   # we consumed p1's two records
        L.expect(err == 0 and parts == {}, "epoch 3 after the errors: error %d, %s" % (err, parts))

        # Forget p2; news on p2 then is not sent, news on p0 is.
        err, _, parts = fetch(s, sid, 4, {}, forgotten=[2])
        L.expect(err == 0 and parts == {}, "epoch 4 (forget p2): error %d, %s" % (err, parts))
        produce(2, 1)
        produce(0, 1)
        err, _, parts = fetch(s, sid, 5, {})
        L.expect(err == 0 and sorted(parts) == [0], "epoch 5: only p0 has news for the session, got %s" % parts)
        L.expect(parts[0][3] == 1, "p0's one new record: %s" % (parts[0],))

        # Close with epoch -1: a full sessionless fetch, id 0; the old id is gone.
        err, sid_closed, parts = fetch(s, sid, -1, {0: 0, 1: 0, 2: 0})
        L.expect(err == 0 and sid_closed == 0, "close: error %d, session id %d" % (err, sid_closed))
        L.expect(sorted(parts) == [0, 1, 2] and [parts[p][3] for p in range(3)] == [4, 2, 1],
                 "closing fetch is full: %s" % parts)
        err, _, _ = fetch(s, sid, 6, {})
        L.expect(err == FETCH_SESSION_ID_NOT_FOUND, "closed session still answers (error %d)" % err)

        # Sessionless stays sessionless.
        err, sid0, parts = fetch(s, 0, -1, {0: 4})
        L.expect(err == 0 and sid0 == 0 and sorted(parts) == [0], "sessionless fetch: %d %d %s" % (err, sid0, parts))


def many_sessions_are_bounded():
    """1,200 sessions opened (above the 1,000-slot cache): every opening fetch is answered, and the
    newest session still works (the oldest may have been evicted: FETCH_SESSION_ID_NOT_FOUND)."""
    with connect() as s:
        ids = []
        for _ in range(1200):
            err, sid, parts = fetch(s, 0, 0, {0: 0}, max_wait_ms=0)
            L.expect(err == 0 and 0 in parts, "opening fetch: %d %s" % (err, parts))
            ids.append(sid)
        L.expect(len(set(i for i in ids if i)) == len([i for i in ids if i]), "session ids repeat")
        err, _, _ = fetch(s, ids[-1], 1, {}, max_wait_ms=0)
        L.expect(err == 0, "newest session after 1,200 opens: error %d" % err)
        err, _, _ = fetch(s, ids[0], 1, {}, max_wait_ms=0)
        print("   oldest of 1,200 sessions: %s" % ("evicted (70)" if err == FETCH_SESSION_ID_NOT_FOUND else "error %d" % err))
        L.expect(err in (0, FETCH_SESSION_ID_NOT_FOUND), "oldest session: error %d" % err)


def stale_session_id_after_restart():
    """Client A opens a session on p0; floe restarts; client B opens a session on p2; A's first
    incremental fetch with its old id must not run in B's session (Kafka: random ids, so the stale
    id is FETCH_SESSION_ID_NOT_FOUND and A falls back to a full fetch). On a broker of its own, so
    that A's session is the first one that broker opens."""
    global broker
    main_broker, broker = broker, L.Broker()
    try:
        broker.start()
        _stale_session_id_after_restart()
    finally:
        broker.cleanup()
        broker = main_broker


def _stale_session_id_after_restart():
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])[TOPIC].result(timeout=20)
    produce(0, 1)
    produce(2, 2)
    with connect() as s:
        err, sid_a, parts = fetch(s, 0, 0, {0: 0})
        L.expect(err == 0 and sid_a != 0, "A's session: error %d id %d" % (err, sid_a))
    broker.restart()
    with connect() as s:
        err, sid_b, parts = fetch(s, 0, 0, {2: 0})
        L.expect(err == 0 and sid_b != 0 and 2 in parts, "B's session: error %d id %d %s" % (err, sid_b, parts))
    with connect() as s:
        err, _, parts = fetch(s, sid_a, 1, {})
    print("   A had id %d, B got id %d; A's epoch-1 fetch after the restart: error %d, partitions %s" % (
        sid_a, sid_b, err, sorted(parts)))
    L.expect(err in (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH),
             "A's stale session id %d was served (error %d) with partitions %s of B's session %d" % (
                 sid_a, err, sorted(parts), sid_b))


def topic_id_of(sock, topic):
    """The topic's id from a raw Metadata v12 request."""
    body = carray([b"\x00" * 16 + cstr(topic) + uvarint(0)]) + struct.pack(">?", False) + struct.pack(">?", False) + uvarint(0)
    sock.sendall(L.kafka_request(3, 12, 7, body, flexible=True))
    r = Reader(L.recv_frame(sock))
    r.take(">i")
    r.tags()
    r.take(">i")                                    # throttle
    for _ in range(r.uvarint() - 1):                # brokers
        r.take(">i"); r.cstr(); r.take(">i"); r.cstr(); r.tags()
    r.cstr()                                        # cluster id
    r.take(">i")                                    # controller id
    for _ in range(r.uvarint() - 1):
        err = r.take(">h")
        name = r.cstr()
        tid = r.data[r.pos:r.pos + 16]
        r.pos += 16
        if name == topic:
            L.expect(err == 0, "metadata error %d" % err)
            return tid
        raise AssertionError("unexpected topic %r" % name)
    raise AssertionError("topic %s not in metadata" % topic)


def fetch_v13(sock, topic_id, partitions):
    """Fetch v13 naming the topic by id. Returns (error, topic id answered, {p: (error, hwm, n_records)})."""
    parts = [struct.pack(">iiqiqi", p, -1, off, -1, -1, 1 << 20) + uvarint(0) for p, off in sorted(partitions.items())]
    body = struct.pack(">iiiibii", -1, 100, 1, 50 << 20, 0, 0, -1)
    body += carray([topic_id + carray(parts) + uvarint(0)]) + carray([]) + cstr("") + uvarint(0)
    sock.sendall(L.kafka_request(1, 13, 9, body, flexible=True))
    r = Reader(L.recv_frame(sock))
    r.take(">i")
    r.tags()
    r.take(">i")
    err, _sid = r.take(">hi")
    out, answered = {}, None
    for _ in range(r.uvarint() - 1):
        answered = r.data[r.pos:r.pos + 16]
        r.pos += 16
        for _ in range(r.uvarint() - 1):
            p, perr, hwm, _lso, _log_start = r.take(">ihqqq")
            for _ in range(max(r.uvarint() - 1, 0)):
                r.take(">qq")
                r.tags()
            r.take(">i")
            records = r.cbytes()
            r.tags()
            out[p] = (perr, hwm, record_count(records or b""))
        r.tags()
    return err, answered, out


def fetch_by_topic_id():
    with connect() as s:
        tid = topic_id_of(s, TOPIC)
        err, answered, parts = fetch_v13(s, tid, {0: 0})
        L.expect(err == 0 and answered == tid, "v13 fetch: error %d, topic id echoed %s" % (err, answered == tid))
        L.expect(parts[0][0] == 0 and parts[0][2] >= 3, "v13 fetch of p0: %s" % (parts[0],))
        err, _, parts = fetch_v13(s, os.urandom(16), {0: 0})
        L.expect(parts.get(0, (None,))[0] == 100, "unknown topic id: %s (want UNKNOWN_TOPIC_ID 100)" % (parts,))


results = L.Results("test_kafka_fetch_sessions")
broker = L.Broker()
try:
    broker.start()
    results.check("fetch session: open, incremental news only, epoch/id errors, forget, close", session_lifecycle)
    results.check("Fetch v13 names topics by id (KIP-516); an unknown id is UNKNOWN_TOPIC_ID",
                  fetch_by_topic_id)
    results.check("1,200 sessions: all answered, the cache stays bounded", many_sessions_are_bounded)
    results.check("a session id from before a restart does not reach another client's session",
                  stale_session_id_after_restart)
    results.check("broker still alive", lambda: L.expect(broker.alive(), "floe exited"))
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
