#!/usr/bin/python3
"""The object-storage WAL with a real client: floe serves with s3.wal.path=0@s3://... on moto_server
(SigV4 checks on) and no block WAL; an idempotent confluent-kafka producer (acks=all) sends numbered
records to 2 partitions while floe is SIGKILLed mid-stream, 3 rounds; after each restart every
ACKNOWLEDGED record is read back at the offset its acknowledgement named, with no duplicates, as a
gap-free prefix of what was sent. The WAL's objects are in the bucket as wal-1-*, and a clean
shutdown leaves none behind (everything was uploaded and the WAL trimmed). Also: a mem:// WAL is
refused at startup naming the key. Uses FLOE_TEST_S3_* when set, else starts moto via
scripts/start-moto.sh. ~30-60 s.
"""

import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("FLOE_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
TOPIC, PARTITIONS, ROUNDS = "objwal", 2, 3

moto_pid = None
if not os.environ.get("FLOE_TEST_S3_ENDPOINT"):
    r = subprocess.run([os.path.join(SRC, "scripts", "start-moto.sh"), "--bucket", "floe-objwal"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == 3:
        print("test_object_wal: SKIP: moto_server not installed")
        sys.exit(0)
    if r.returncode != 0:
        print("test_object_wal: cannot start moto:\n" + r.stderr)
        sys.exit(1)
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            os.environ[k] = v
    moto_pid = int(os.environ["FLOE_TEST_MOTO_PID"])

E = os.environ
Q = lambda v: urllib.parse.quote(v, safe="")  # noqa: E731 (secret keys may hold '/' or '+')
URI = "0@s3://%s?region=%s&endpoint=%s&pathStyle=true&accessKey=%s&secretKey=%s" % (
    E["FLOE_TEST_S3_BUCKET"], E["FLOE_TEST_S3_REGION"], Q(E["FLOE_TEST_S3_ENDPOINT"]), Q(E["FLOE_TEST_S3_ACCESS_KEY"]),
    Q(E["FLOE_TEST_S3_SECRET_KEY"]))
broker = L.Broker({"s3.wal.path": URI, "s3.wal.object.linger.ms": "2", "s3.wal.upload.threshold": str(4 << 20),
                   "s3.wal.cache.size": str(16 << 20), "s3.wal.capacity": str(64 << 20)})


def wal_objects():
    """This node's WAL objects (wal-1-*, not the open markers), read and CRC-checked by
    `floe storage inspect wal URI`."""
    r = subprocess.run([L.FLOE_BIN, "storage", "inspect", "wal", URI], capture_output=True, text=True, timeout=60)
    L.expect(r.returncode == 0, "floe storage inspect wal: %s %s" % (r.stdout[-2000:], r.stderr))
    return [l.split(":")[0] for l in r.stdout.splitlines() if l.startswith("wal-1-") and "open marker" not in l]


def produce_until_killed(round_no, rnd):
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": rnd.choice([0, 5]), "message.timeout.ms": 1500, "socket.timeout.ms": 2000,
                  "reconnect.backoff.max.ms": 200})
    sent = [0] * PARTITIONS
    acked = [dict() for _ in range(PARTITIONS)]

    def on_delivery(err, msg):
        if err is None:
            seq = int(msg.value().decode().split(":")[2])
            acked[msg.partition()][seq] = msg.offset()

    for part in range(PARTITIONS):
        p.produce(TOPIC, ("%d:%d:0" % (round_no, part)).encode(), partition=part, on_delivery=on_delivery)
        sent[part] = 1
    L.expect(p.flush(15) == 0 and all(0 in a for a in acked), "round %d: warm-up records not acknowledged" % round_no)
    killer = threading.Timer(rnd.uniform(0.5, 1.5), broker.kill)
    killer.start()
    i = PARTITIONS
    deadline = time.monotonic() + 10
    while broker.proc is not None and time.monotonic() < deadline:
        part = i % PARTITIONS
        try:
            p.produce(TOPIC, ("%d:%d:%d" % (round_no, part, sent[part])).encode(), partition=part,
                      on_delivery=on_delivery)
            sent[part] += 1
            i += 1
        except BufferError:
            p.poll(0.01)
        if i % 100 == 0:
            p.poll(0)
            time.sleep(0.002)
    killer.join()
    L.expect(p.flush(15) == 0, "round %d: records neither acked nor failed 15 s after the kill" % round_no)
    return sent, acked


def read_range(start, timeout_s=30):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "objwal-unused", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50})
    highs = [c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] for p in range(PARTITIONS)]
    c.assign([TopicPartition(TOPIC, p, start[p]) for p in range(PARTITIONS) if highs[p] > start[p]])
    out = {p: [] for p in range(PARTITIONS)}
    deadline = time.monotonic() + timeout_s
    while any(start[p] + len(out[p]) < highs[p] for p in range(PARTITIONS)) and time.monotonic() < deadline:
        for m in c.consume(num_messages=5000, timeout=0.2):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError("consume: %s" % m.error())
            if m.offset() < highs[m.partition()]:
                out[m.partition()].append((m.offset(), m.value().decode()))
    c.close()
    for p in range(PARTITIONS):
        L.expect(start[p] + len(out[p]) == highs[p], "partition %d: read %d of [%d, %d)" % (p, len(out[p]), start[p], highs[p]))
    return out, highs


def verify(round_no, start, sent, acked, recs):
    for p in range(PARTITIONS):
        seqs = []
        for o, v in recs[p]:
            r, part, seq = (int(x) for x in v.split(":"))
            L.expect(r == round_no and part == p, "round %d partition %d offset %d holds %s" % (round_no, p, o, v))
            seqs.append(seq)
        L.expect(len(set(seqs)) == len(seqs), "round %d partition %d: duplicates" % (round_no, p))
        L.expect(seqs == list(range(len(seqs))), "round %d partition %d: not a gap-free prefix of what was sent" % (round_no, p))
        L.expect(len(seqs) <= sent[p], "round %d partition %d: more present than sent" % (round_no, p))
        for seq, off in acked[p].items():
            L.expect(seq < len(seqs), "round %d partition %d: acknowledged record %d (offset %d) lost; %d present" % (
                round_no, p, seq, off, len(seqs)))
            L.expect(off == start[p] + seq, "round %d partition %d: record %d acked at %d, stored at %d" % (
                round_no, p, seq, off, start[p] + seq))


def acknowledged_records_survive_sigkill():
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(timeout=20)
    L.expect(not os.path.exists(os.path.join(broker.dir, "data", "wal")), "a block WAL file was created")
    rnd = random.Random(int(os.environ.get("FLOE_OBJWAL_SEED", str(int(time.time())))))
    start = [0] * PARTITIONS
    for round_no in range(ROUNDS):
        sent, acked = produce_until_killed(round_no, rnd)
        objects = wal_objects()  # what the dead broker left in the WAL
        broker.start()
        recs, highs = read_range(start)
        verify(round_no, start, sent, acked, recs)
        print("   round %d: sent %d, acked %d, present %d; %d WAL objects left by the kill" % (
            round_no, sum(sent), sum(len(x) for x in acked), sum(len(recs[p]) for p in range(PARTITIONS)), len(objects)))
        start = highs
    L.expect("opened object WAL" in broker.log_text(), "no 'opened object WAL' in the log")


def clean_shutdown_leaves_no_wal_objects():
    L.expect(broker.stop() == 0, "SIGTERM: non-zero exit")
    L.wait_until(lambda: wal_objects() == [], 20, "the WAL objects deleted after a clean shutdown")
    broker.start()


def mem_wal_is_refused():
    b = L.Broker({"s3.wal.path": "mem://"})
    try:
        b.start()
        raise AssertionError("floe started with a mem:// WAL")
    except RuntimeError as e:
        L.expect("s3.wal.path" in str(e), "the startup error does not name s3.wal.path: %s" % e)
    finally:
        b.cleanup()


if __name__ == "__main__":
    results = L.Results("object WAL")
    try:
        broker.start()
        results.check("acknowledged records survive SIGKILL (object WAL on S3)", acknowledged_records_survive_sigkill)
        results.check("a clean shutdown leaves no WAL objects", clean_shutdown_leaves_no_wal_objects)
        results.check("a mem:// WAL is refused at startup", mem_wal_is_refused)
    finally:
        fin_broker = broker
        if moto_pid:  # the moto this test started, and its log
            try:
                os.kill(moto_pid, 15)
                os.remove(E["FLOE_TEST_MOTO_LOG"])
            except OSError:
                pass
    results.finish(fin_broker)
