#!/usr/bin/python3
"""kcat (librdkafka 2.0.2) against floe: `kcat -L` lists the broker and topics; produce then consume
with every compression codec (none, gzip, snappy, lz4, zstd) keeps keys, values, headers and
per-partition order intact, on an auto-created topic of 8 partitions (num.partitions=8)."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

PARTITIONS = 8
RECORDS_PER_CODEC = 2000


def kcat(args, stdin=None, timeout_s=30):
    p = subprocess.run(["kcat", "-b", broker.bootstrap] + args, input=stdin, capture_output=True, timeout=timeout_s)
    if p.returncode != 0:
        raise AssertionError("kcat %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    return p.stdout.decode()


def metadata_lists_broker():
    out = kcat(["-L"])
    L.expect("broker 1 at %s" % broker.bootstrap in out, "kcat -L does not list broker 1 at %s:\n%s" % (broker.bootstrap, out))
    meta = json.loads(kcat(["-L", "-J"]))
    L.expect([b["id"] for b in meta["brokers"]] == [1], "brokers: %s" % meta["brokers"])
    L.expect(meta["controllerid"] == 1 if "controllerid" in meta else True, "controller id: %s" % meta.get("controllerid"))


def topic_partitions(topic):
    meta = json.loads(kcat(["-L", "-J", "-t", topic]))
    topics = {t["topic"]: t for t in meta["topics"]}
    L.expect(topic in topics, "topic %s missing from metadata: %s" % (topic, meta))
    t = topics[topic]
    L.expect("error" not in t, "topic %s has an error: %s" % (topic, t))
    return sorted(p["partition"] for p in t["partitions"])


def produce_and_consume(codec):
    topic = "kcat-%s" % codec
    # Keys spread records over the partitions (librdkafka's consistent_random partitioner);
    # values are compressible so every codec really compresses.
    lines = []
    for i in range(RECORDS_PER_CODEC):
        lines.append("key-%d\tvalue-%d-%s" % (i, i, ("abcdefgh" * (1 + i % 20))))
    kcat(["-P", "-t", topic, "-z", codec, "-K", "\t", "-H", "codec=%s" % codec, "-H", "h2=two",
          "-X", "linger.ms=20", "-X", "batch.num.messages=500"], stdin=("\n".join(lines) + "\n").encode())
    parts = topic_partitions(topic)
    L.expect(parts == list(range(PARTITIONS)), "auto-created %s has partitions %s, want 0..%d" % (topic, parts, PARTITIONS - 1))

    out = kcat(["-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"], timeout_s=60)
    got = [json.loads(l) for l in out.splitlines() if l.strip()]
    L.expect(len(got) == RECORDS_PER_CODEC, "%s: consumed %d records, produced %d" % (codec, len(got), RECORDS_PER_CODEC))
    by_key = {}
    last_offset = {}
    last_index = {}
    used_partitions = set()
    for m in got:
        L.expect(m["key"] not in by_key, "%s: key %s consumed twice" % (codec, m["key"]))
        by_key[m["key"]] = m
        i = int(m["key"].split("-")[1])
        L.expect(m["payload"] == lines[i].split("\t", 1)[1], "%s: value of %s is %r" % (codec, m["key"], m["payload"][:80]))
        headers = m.get("headers") or []
        L.expect(headers == ["codec", codec, "h2", "two"], "%s: headers of %s are %s" % (codec, m["key"], headers))
        p = m["partition"]
        used_partitions.add(p)
        L.expect(m["offset"] == last_offset.get(p, -1) + 1, "%s: partition %d offset %d after %d (gap or reorder)" % (
            codec, p, m["offset"], last_offset.get(p, -1)))
        L.expect(i > last_index.get(p, -1), "%s: partition %d: record %d after %d (order)" % (codec, p, i, last_index.get(p, -1)))
        last_offset[p] = m["offset"]
        last_index[p] = i
    L.expect(len(used_partitions) >= PARTITIONS // 2, "%s: records only in partitions %s" % (codec, sorted(used_partitions)))
    print("   %s: %d records over partitions %s, keys/values/headers intact, offsets dense" % (
        codec, len(got), sorted(used_partitions)))


def explicit_partition_and_offsets():
    # -p N produces to one partition; -o N consumes from an offset; -Q-like end offsets via -Q are
    # timestamps, so check the high watermark with a consume count instead.
    topic = "kcat-explicit"
    kcat(["-P", "-t", topic, "-p", "3", "-K", ":"], stdin=b"".join(b"k%d:v%d\n" % (i, i) for i in range(50)))
    out = kcat(["-C", "-t", topic, "-p", "3", "-o", "40", "-e", "-J", "-q"])
    got = [json.loads(l) for l in out.splitlines() if l.strip()]
    L.expect([m["offset"] for m in got] == list(range(40, 50)), "offsets from 40: %s" % [m["offset"] for m in got])
    L.expect([m["payload"] for m in got] == ["v%d" % i for i in range(40, 50)], "values from 40: %s" % [m["payload"] for m in got])
    out = kcat(["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J", "-q"])
    L.expect(out.strip() == "", "partition 0 should be empty: %s" % out[:200])
    out = kcat(["-C", "-t", topic, "-p", "3", "-o", "-5", "-e", "-J", "-q"])
    got = [json.loads(l) for l in out.splitlines() if l.strip()]
    L.expect([m["offset"] for m in got] == list(range(45, 50)), "last 5 offsets: %s" % [m["offset"] for m in got])


def lists_created_topics():
    meta = json.loads(kcat(["-L", "-J"]))
    names = {t["topic"] for t in meta["topics"]}
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        L.expect("kcat-%s" % codec in names, "kcat -L misses kcat-%s: %s" % (codec, sorted(names)))


def large_values():
    # Values near 512 KiB (below message.max.bytes 1 MiB) round-trip byte for byte.
    topic = "kcat-large"
    import random
    rnd = random.Random(7)
    vals = ["".join(rnd.choice("0123456789abcdef") for _ in range(n)) for n in (1, 1000, 100000, 500000)]
    kcat(["-P", "-t", topic, "-p", "0", "-z", "zstd"], stdin=("\n".join(vals) + "\n").encode())
    out = kcat(["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J", "-q"], timeout_s=60)
    got = [json.loads(l)["payload"] for l in out.splitlines() if l.strip()]
    L.expect(got == vals, "large values differ: sizes %s vs %s" % ([len(g) for g in got], [len(v) for v in vals]))


results = L.Results("test_kafka_kcat")
broker = L.Broker(overrides={"num.partitions": str(PARTITIONS)})
try:
    broker.start()
    results.check("kcat -L lists broker 1", metadata_lists_broker)
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        results.check("produce+consume %d records, %d partitions, -z %s" % (RECORDS_PER_CODEC, PARTITIONS, codec),
                      produce_and_consume, codec)
    results.check("kcat -L lists the auto-created topics", lists_created_topics)
    results.check("explicit partition, consume from offset 40 and from end-5", explicit_partition_and_offsets)
    results.check("values up to 500 KB round-trip (zstd)", large_values)
    results.check("broker still alive", lambda: L.expect(broker.alive(), "floe exited"))
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
