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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC, PARTITIONS, ROUNDS = "objwal", 2, 3

moto_pid = None
if not os.environ.get("FLOE_TEST_S3_ENDPOINT"):
    moto = L.start_moto("floe-objwal")
    if moto is None:
        print("test_object_wal: SKIP: moto_server not installed")
        sys.exit(0)
    os.environ.update(moto)
    moto_pid = int(moto["FLOE_TEST_MOTO_PID"])

URI = L.s3_uri(os.environ)
broker = L.Broker({"s3.wal.path": URI, "s3.wal.object.linger.ms": "2", "s3.wal.upload.threshold": str(4 << 20),
                   "s3.wal.cache.size": str(16 << 20), "s3.wal.capacity": str(64 << 20)})


def wal_objects():
    """This node's WAL objects (wal-1-*, not the open markers), read and CRC-checked by
    `floe storage inspect wal URI`."""
    r = subprocess.run([L.FLOE_BIN, "storage", "inspect", "wal", URI], capture_output=True, text=True, timeout=60)
    L.expect(r.returncode == 0, "floe storage inspect wal: %s %s" % (r.stdout[-2000:], r.stderr))
    return [l.split(":")[0] for l in r.stdout.splitlines() if l.startswith("wal-1-") and "open marker" not in l]


def acknowledged_records_survive_sigkill():
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(timeout=20)
    L.expect(not os.path.exists(os.path.join(broker.dir, "data", "wal")), "a block WAL file was created")
    rnd = random.Random(int(os.environ.get("FLOE_OBJWAL_SEED", str(int(time.time())))))
    start = [0] * PARTITIONS
    for round_no in range(ROUNDS):
        linger_ms = rnd.choice([0, 5])
        produced = L.produce_until_killed(broker, TOPIC, PARTITIONS, round_no, broker.kill,
                                          kill_after_s=rnd.uniform(0.5, 1.5), linger_ms=linger_ms)
        objects = wal_objects()  # what the dead broker left in the WAL
        broker.start()
        recs, highs = L.read_range(broker.bootstrap, TOPIC, PARTITIONS, start)
        present = L.verify_round(round_no, start, produced, recs)
        print("   round %d: sent %d, acked %d, present %d; %d WAL objects left by the kill" % (
            round_no, sum(produced.sent), sum(len(x) for x in produced.acked), present, len(objects)))
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
                os.remove(os.environ["FLOE_TEST_MOTO_LOG"])
            except OSError:
                pass
    results.finish(fin_broker)
