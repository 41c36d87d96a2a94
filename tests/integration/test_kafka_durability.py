#!/usr/bin/python3
"""Crash durability with a real client: in each round an idempotent confluent-kafka producer
(acks=all) sends numbered records to 4 partitions, floe is SIGKILLed at a random moment (every 6th
round: SIGTERM under load, which must exit 0), restarted on the same data directory, and the new
records are read back. At least 20 rounds, more while under BUDGET_S (FLOE_DURABILITY_ITERATIONS,
_BUDGET_S and _SEED override). FLOE_SLOW_TEST: ~90 s (ctest label "slow"; `ctest -LE slow` skips it).

Promise, per partition and per producer (one producer per round):
- every ACKNOWLEDGED record is present, at the offset its acknowledgement named;
- no record appears twice (idempotent producer: no duplicates at all, acked or not);
- the records present are a gap-free prefix of what that producer sent to the partition, in order
  (unacknowledged ones at the tail may or may not be there);
- offsets stay dense across restarts, and a final full re-read agrees with every round's view.
Also: one idempotent producer kept across 6 SIGKILL restarts neither duplicates nor reorders;
committed group offsets, topic ids and a DeleteRecords log start survive a SIGKILL (a topic
deleted and created again gets a new id and no old data); deleting a topic whose data is still only in the WAL keeps uploads (and so produce) going.
"""

import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC, PARTITIONS = "durable", 4
ITERATIONS = int(os.environ.get("FLOE_DURABILITY_ITERATIONS", "22"))
MIN_ITERATIONS = min(ITERATIONS, 20)
BUDGET_S = float(os.environ.get("FLOE_DURABILITY_BUDGET_S", "90"))   # rounds past MIN_ITERATIONS stop here
HARD_LIMIT_S = 180                                                      # even MIN_ITERATIONS stop here (slow machine)
SEED = int(os.environ.get("FLOE_DURABILITY_SEED", str(int(time.time()))))


def create_topic():
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    f = a.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC]
    f.result(timeout=20)


def durability_loop():
    rnd = random.Random(SEED)
    print("   seed %d (FLOE_DURABILITY_SEED to replay), up to %d rounds in %.0f s" % (SEED, ITERATIONS, BUDGET_S))
    create_topic()
    start = [0] * PARTITIONS
    history = {}   # (partition, offset) -> value, as each round saw it
    t0 = time.monotonic()
    rounds = 0
    totals = [0, 0, 0]
    while rounds < ITERATIONS and time.monotonic() - t0 < (BUDGET_S if rounds >= MIN_ITERATIONS else HARD_LIMIT_S):
        t_round = time.monotonic()
        # Every 6th round stops floe with SIGTERM under load instead: a clean shutdown, exit 0.
        clean = rounds % 6 == 5
        stop_rc = []
        stop = (lambda: stop_rc.append(broker.stop())) if clean else broker.kill
        linger_ms = rnd.choice([0, 1, 5])
        produced = L.produce_until_killed(broker, TOPIC, PARTITIONS, rounds, stop, kill_after_s=rnd.uniform(0.05, 1.0),
                                          linger_ms=linger_ms, warmup_flush_s=10, poll_every=200,
                                          extra_config={"queue.buffering.max.messages": 20000})
        if clean:
            L.expect(stop_rc == [0], "round %d: SIGTERM under load: exit code %s" % (rounds, stop_rc))
        t_produced = time.monotonic()
        broker.start()  # same data dir and ports
        t_started = time.monotonic()
        recs, highs = L.read_range(broker.bootstrap, TOPIC, PARTITIONS, start)
        t_read = time.monotonic()
        present = L.verify_round(rounds, start, produced, recs)
        n_acked = sum(len(a) for a in produced.acked)
        totals[0] += sum(produced.sent)
        totals[1] += n_acked
        totals[2] += present
        print("   round %2d: %s after %.2f s; sent %6d, acked %6d, failed %5d, present after restart %6d "
              "(produce %.1f s, restart %.1f s, read %.1f s)" % (
                  rounds, "SIGTERM" if clean else "killed", produced.kill_after_s, sum(produced.sent), n_acked,
                  produced.failed, present, t_produced - t_round, t_started - t_produced,
                  t_read - t_started))
        for p in range(PARTITIONS):
            for o, v in recs[p]:
                history[(p, o)] = v
        start = highs
        rounds += 1
    L.expect(rounds >= MIN_ITERATIONS, "only %d rounds fit in %.0f s (want >= %d)" % (rounds, HARD_LIMIT_S, MIN_ITERATIONS))
    # One last clean restart: the whole log, read from 0, is exactly what the rounds saw.
    broker.restart()
    full, highs = L.read_range(broker.bootstrap, TOPIC, PARTITIONS, [0] * PARTITIONS, timeout_s=60)
    L.expect(highs == start, "high watermarks moved after a clean restart: %s -> %s" % (start, highs))
    for p in range(PARTITIONS):
        for o, v in full[p]:
            L.expect(history.get((p, o)) == v, "partition %d offset %d: %r now, %r when its round checked it" % (
                p, o, v, history.get((p, o))))
    print("   %d rounds in %.1f s: %d sent, %d acked, %d present; final re-read of %d records agrees" % (
        rounds, time.monotonic() - t0, totals[0], totals[1], totals[2], sum(len(v) for v in full.values())))


def committed_offsets_survive_sigkill():
    """Group offsets committed (acknowledged) before a SIGKILL are there after the restart, and a new
    member of the group resumes from them."""
    L.require_groups(broker.bootstrap)
    group = "durable-group"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    highs = [c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] for p in range(PARTITIONS)]
    L.expect(all(h >= 2 for h in highs), "partitions too short for the check: %s" % highs)
    want = [TopicPartition(TOPIC, p, highs[p] // 2 + p) for p in range(PARTITIONS)]
    c.commit(offsets=want, asynchronous=False)
    got = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
    L.expect([tp.offset for tp in got] == [tp.offset for tp in want], "committed before the kill: %s" % got)
    broker.restart(hard=True)
    got = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=20)
    c.close()
    L.expect([tp.offset for tp in got] == [tp.offset for tp in want], "committed after SIGKILL + restart: %s, want %s" % (
        [tp.offset for tp in got], [tp.offset for tp in want]))
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
    c.subscribe([TOPIC])
    first = {}
    deadline = time.monotonic() + 30
    while len(first) < PARTITIONS and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error() and m.partition() not in first:
            first[m.partition()] = m.offset()
    c.close()
    L.expect(first == {tp.partition: tp.offset for tp in want}, "a new member started at %s, want the committed %s" % (
        first, {tp.partition: tp.offset for tp in want}))


def producer_outlives_crashes():
    """One idempotent producer (acks=all, message.timeout.ms 60 s) keeps producing while floe is
    SIGKILLed and restarted 6 times under it: its retries across the restarts neither duplicate nor
    reorder anything (the producer state is rebuilt from the log), and every acknowledged record is
    at its offset."""
    topic, parts = "outlives", 4
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic(topic, num_partitions=parts, replication_factor=1)])[topic].result(timeout=20)
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 2,
                  "message.timeout.ms": 60000, "reconnect.backoff.max.ms": 200,
                  "queue.buffering.max.messages": 50000})
    acked, failed = {}, []

    def on_delivery(err, msg):
        if err is not None:
            failed.append(err)
        else:
            acked[(msg.partition(), int(msg.value()))] = msg.offset()

    for q in range(parts):
        p.produce(topic, b"%d" % q, partition=q, on_delivery=on_delivery)
    L.expect(p.flush(10) == 0, "warm-up not acknowledged")
    rnd = random.Random(SEED + 1)
    crashes = 6
    done = threading.Event()

    def chaos():
        try:
            for _ in range(crashes):
                time.sleep(rnd.uniform(0.3, 1.0))
                broker.kill()
                time.sleep(rnd.uniform(0.0, 0.5))
                broker.start()
        finally:
            done.set()

    t = threading.Thread(target=chaos)
    t.start()
    i = parts
    while not done.is_set():
        try:
            p.produce(topic, b"%d" % i, partition=i % parts, on_delivery=on_delivery)
            i += 1
        except BufferError:
            p.poll(0.02)
        if i % 300 == 0:
            p.poll(0)
            time.sleep(0.003)
    t.join()
    left = p.flush(60)
    L.expect(left == 0, "%d records neither acked nor failed 60 s after the last restart" % left)
    L.expect(len(acked) + len(failed) == i, "acked %d + failed %d != sent %d" % (len(acked), len(failed), i))
    recs, _ = L.read_range(broker.bootstrap, topic, parts, [0] * parts, timeout_s=60)
    present = 0
    for q in range(parts):
        vals = [int(v) for _, v in recs[q]]
        L.expect(len(vals) == len(set(vals)), "partition %d: duplicates after %d crashes" % (q, crashes))
        L.expect(all(x < y for x, y in zip(vals, vals[1:])), "partition %d: order broken" % q)
        L.expect(all(v % parts == q for v in vals), "partition %d holds another partition's record" % q)
        at = {int(v): o for o, v in recs[q]}
        for (pq, v), off in acked.items():
            if pq == q:
                L.expect(at.get(v) == off, "partition %d: acked record %d at offset %d, found at %s" % (q, v, off, at.get(v)))
        present += len(vals)
    print("   %d crashes under one producer: %d sent, %d acked, %d failed, %d present, no duplicates, in order" % (
        crashes, i, len(acked), len(failed), present))


def _kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def topic_id(name):
    """The topic id of `name` from a raw Metadata v12 (flexible) request, as hex."""
    def uvarint(r):
        shift = out = 0
        while True:
            b = r[0][r[1]]
            r[1] += 1
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7
    raw = name.encode()
    body = bytes([2]) + b"\x00" * 16 + bytes([len(raw) + 1]) + raw + b"\x00" + b"\x00" + b"\x00" + b"\x00"
    host, port = broker.bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(L.kafka_request(3, 12, 9, body, flexible=True))
        data = L.recv_frame(s)
    def skip_string(r):                 # compact (nullable) string
        n = uvarint(r) - 1              # (read before moving: `r[1] += uvarint(r)` would lose the read)
        r[1] += max(n, 0)

    r = [data, 4]
    uvarint(r)                          # header tags (count 0)
    r[1] += 4                           # throttle
    for _ in range(uvarint(r) - 1):     # brokers: node, host, port, rack, tags
        r[1] += 4
        skip_string(r)
        r[1] += 4
        skip_string(r)
        uvarint(r)
    skip_string(r)                      # cluster id
    r[1] += 4                           # controller id
    L.expect(uvarint(r) - 1 == 1, "Metadata v12: one topic expected")
    (err,) = struct.unpack_from(">h", data, r[1])
    r[1] += 2
    n = uvarint(r) - 1
    got = data[r[1]:r[1] + n].decode()
    r[1] += n
    L.expect(err == 0 and got == name, "Metadata v12 for %s: error %d, name %r" % (name, err, got))
    return data[r[1]:r[1] + 16].hex()


def delete_records(topic, partition, offset):
    """Raw DeleteRecords v1; returns (error, low watermark)."""
    body = struct.pack(">i", 1) + _kstr(topic) + struct.pack(">i", 1) + struct.pack(">iq", partition, offset)
    body += struct.pack(">i", 10000)
    host, port = broker.bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(L.kafka_request(21, 1, 5, body))
        data = L.recv_frame(s)
    pos = 4 + 4 + 4
    (n,) = struct.unpack_from(">h", data, pos)
    pos += 2 + n + 4
    _p, low, err = struct.unpack_from(">iqh", data, pos)
    return err, low


def metadata_and_log_start_survive_sigkill():
    """Topic ids stay the same across SIGKILL restarts and change when a topic is deleted and created
    again; a DeleteRecords log start offset survives SIGKILL and is where consumers from 'earliest' start."""
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("ids", num_partitions=1, replication_factor=1)])["ids"].result(timeout=20)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        p.produce("ids", b"v%d" % i, partition=0)
    L.expect(p.flush(10) == 0, "not delivered")
    first_id = topic_id("ids")
    L.expect(first_id != "0" * 32, "topic id is all zeros")
    err, low = delete_records("ids", 0, 4)
    L.expect(err == 0 and low == 4, "DeleteRecords to 4: error %d, low watermark %d" % (err, low))
    broker.restart(hard=True)
    L.expect(topic_id("ids") == first_id, "topic id changed across a SIGKILL restart")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ids-reader", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    lo, hi = c.get_watermark_offsets(TopicPartition("ids", 0), timeout=10)
    L.expect((lo, hi) == (4, 10), "watermarks after SIGKILL: %s, want (4, 10)" % ((lo, hi),))
    c.subscribe(["ids"])
    got, deadline = [], time.monotonic() + 20
    while len(got) < 6 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.offset())
    c.close()
    L.expect(got == list(range(4, 10)), "a consumer from 'earliest' read offsets %s, want 4..9" % got)
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.delete_topics(["ids"])["ids"].result(timeout=20)
    L.wait_until(lambda: "ids" not in a.list_topics(timeout=10).topics, 10, "'ids' to be deleted")
    a.create_topics([NewTopic("ids", num_partitions=1, replication_factor=1)])["ids"].result(timeout=20)
    second_id = topic_id("ids")
    L.expect(second_id != first_id, "a re-created topic kept the old topic id %s" % first_id)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ids-reader-2"})
    lo, hi = c.get_watermark_offsets(TopicPartition("ids", 0), timeout=10)
    c.close()
    L.expect((lo, hi) == (0, 0), "re-created topic has watermarks %s (old data or start offset leaked)" % ((lo, hi),))


def delete_topic_with_unuploaded_data():
    """Deleting a topic whose records are still only in the WAL must not stop uploads of the others:
    with a 16 MiB WAL, 40 MB produced afterwards to another topic is all acknowledged and survives a
    SIGKILL + restart."""
    small = {"s3.wal.capacity": str(16 << 20), "s3.wal.upload.threshold": str(1 << 20),
             "s3.wal.cache.size": str(8 << 20)}
    with L.Broker(overrides=small) as b:
        a = AdminClient({"bootstrap.servers": b.bootstrap})
        for t in ("doomed", "alive"):
            a.create_topics([NewTopic(t, num_partitions=1, replication_factor=1)])[t].result(timeout=20)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, "message.timeout.ms": 15000,
                      "enable.idempotence": True})
        p.produce("doomed", b"soon deleted", partition=0)
        L.expect(p.flush(10) == 0, "record to 'doomed' not acked")
        a.delete_topics(["doomed"])["doomed"].result(timeout=20)
        value = random.Random(3).randbytes(10000)   # incompressible
        n, acked, errors = 4000, [0], []

        def on_delivery(err, msg):
            if err is None:
                acked[0] += 1
            else:
                errors.append(err)

        t0 = time.monotonic()
        for _ in range(n):
            while True:
                try:
                    p.produce("alive", value, partition=0, on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.05)
        p.flush(30)
        print("   40 MB after the delete: %d of %d acked in %.1f s%s" % (
            acked[0], n, time.monotonic() - t0, ", first error %s" % errors[0] if errors else ""))
        L.expect(acked[0] == n, "after deleting a topic with un-uploaded data only %d of %d records (10 KB) were acked "
                 "(%s); log: %s" % (acked[0], n, errors[:1], [l for l in b.log_text().splitlines() if "ERROR" in l][:2]))
        b.restart(hard=True)
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused", "enable.auto.commit": False})
        high = c.get_watermark_offsets(TopicPartition("alive", 0), timeout=10)[1]
        c.close()
        L.expect(high == n, "after SIGKILL + restart 'alive' ends at %d, want %d" % (high, n))


results = L.Results("test_kafka_durability")
# Small WAL and upload threshold: uploads, WAL trims and cold reads happen inside the kill window too.
broker = L.Broker(overrides={"s3.wal.capacity": str(16 << 20), "s3.wal.upload.threshold": str(1 << 20),
                             "s3.wal.cache.size": str(8 << 20)})
try:
    broker.start()
    results.check("SIGKILL (every 6th round SIGTERM under load) loses no acknowledged record, duplicates none",
                  durability_loop)
    results.check("one idempotent producer outlives 6 crashes: no duplicates, order kept, acked records in place",
                  producer_outlives_crashes)
    results.check("committed group offsets survive SIGKILL; a new member resumes there",
                  committed_offsets_survive_sigkill)
    results.check("topic ids and DeleteRecords log start survive SIGKILL; a re-created topic is new",
                  metadata_and_log_start_survive_sigkill)
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
    results.check("deleting a topic with data not yet uploaded keeps uploads and produce going",
                  delete_topic_with_unuploaded_data)
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
