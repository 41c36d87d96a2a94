#!/usr/bin/python3
"""kafka-python 2.0.2 (a pure-python client with its own protocol code, unlike librdkafka) against floe.

Promises checked:
- the client's version probe accepts floe (api_version detected, no fallback to 0.8);
- KafkaAdminClient creates topics (incl. a duplicate -> TopicAlreadyExistsError), lists, describes
  and deletes them, and creates partitions;
- KafkaProducer (acks=all, each codec it has: gzip, snappy, lz4, zstd) sends keyed records with
  headers; a KafkaConsumer with assign() reads them back intact and in order;
- group consumer (guarded: skipped while the broker closes the connection on JoinGroup): subscribe,
  consume, commit(), committed() equals the position; a second consumer of the group resumes from
  the committed offset; the admin lists the group and its offsets; two members split the partitions,
  DescribeGroups shows them, DeleteGroups refuses a live group and deletes an empty one with its offsets.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

import logging  # noqa: E402

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic  # noqa: E402
from kafka.errors import TopicAlreadyExistsError  # noqa: E402

logging.basicConfig(level=logging.ERROR)

RECORDS = 3000


def admin():
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=20000)


def api_version_detected():
    a = admin()
    v = a.config["api_version"]
    a.close()
    print("   kafka-python detected api_version %s" % (v,))
    L.expect(v is not None and v >= (1, 0, 0), "kafka-python thinks the broker is %s (probe failed?)" % (v,))


def admin_topics():
    a = admin()
    try:
        a.create_topics([NewTopic("kp-a", num_partitions=4, replication_factor=1),
                         NewTopic("kp-b", num_partitions=1, replication_factor=1,
                                  topic_configs={"retention.ms": "600000"})], timeout_ms=20000)
        try:
            a.create_topics([NewTopic("kp-a", num_partitions=4, replication_factor=1)], timeout_ms=20000)
            raise AssertionError("creating kp-a twice succeeded")
        except TopicAlreadyExistsError:
            pass
        L.wait_until(lambda: {"kp-a", "kp-b"} <= set(a.list_topics()), 30, "kp-a, kp-b in list_topics")
        desc = {t["topic"]: t for t in a.describe_topics(["kp-a"])}
        L.expect(len(desc["kp-a"]["partitions"]) == 4, "kp-a partitions: %s" % desc["kp-a"]["partitions"])
        res = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-b")])
        entries = {e[0]: e[1] for e in res[0].resources[0][4]}
        L.expect(entries.get("retention.ms") == "600000", "kp-b retention.ms: %r" % entries.get("retention.ms"))
        a.create_partitions({"kp-a": NewPartitions(total_count=6)})
        L.wait_until(lambda: len({t["topic"]: t for t in a.describe_topics(["kp-a"])}["kp-a"]["partitions"]) == 6,
                     30, "kp-a to have 6 partitions")
        a.delete_topics(["kp-b"], timeout_ms=20000)
        L.wait_until(lambda: "kp-b" not in set(a.list_topics()), 30, "kp-b to disappear")
    finally:
        a.close()


def create_topic(topic, partitions):
    a = admin()
    try:
        a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)], timeout_ms=20000)
    finally:
        a.close()


def produce(topic, codec, n, partitions):
    create_topic(topic, partitions)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", compression_type=codec, linger_ms=10,
                      retries=3)
    futures = []
    for i in range(n):
        futures.append(p.send(topic, key=b"k%d" % i, value=b"v%d-" % i + b"x" * (i % 100), partition=i % partitions,
                              headers=[("n", str(i).encode()), ("codec", str(codec).encode())]))
    p.flush(30)
    metas = [f.get(timeout=30) for f in futures]
    p.close(10)
    return metas


def consume_assigned(topic, partitions, n, timeout_s=30):
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100,
                      consumer_timeout_ms=2000)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    c.assign(tps)
    c.seek_to_beginning()
    out = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        for recs in c.poll(timeout_ms=500, max_records=5000).values():
            out.extend(recs)
    ends = c.end_offsets(tps)
    c.close()
    return out, ends


def produce_consume(codec):
    topic = "kp-%s" % (codec or "none")
    parts = 3
    metas = produce(topic, codec, RECORDS, parts)
    L.expect(all(m.partition == i % parts for i, m in enumerate(metas)), "%s: records acked on wrong partitions" % codec)
    got, ends = consume_assigned(topic, parts, RECORDS)
    L.expect(len(got) == RECORDS, "%s: consumed %d of %d" % (codec, len(got), RECORDS))
    L.expect(sorted(ends.values()) == sorted([RECORDS // parts] * parts), "%s: end offsets %s" % (codec, ends))
    last = {}
    for r in got:
        i = int(r.key[1:])
        L.expect(r.value == b"v%d-" % i + b"x" * (i % 100), "%s: value of k%d" % (codec, i))
        L.expect(list(r.headers) == [("n", str(i).encode()), ("codec", str(codec).encode())],
                 "%s: headers of k%d: %s" % (codec, i, r.headers))
        L.expect(r.offset == last.get(r.partition, -1) + 1, "%s: partition %d offset %d after %d" % (
            codec, r.partition, r.offset, last.get(r.partition, -1)))
        L.expect(r.offset == i // parts and r.partition == i % parts, "%s: k%d at %d/%d" % (codec, i, r.partition, r.offset))
        last[r.partition] = r.offset


def group_commit_and_resume():
    L.require_groups(broker.bootstrap)
    topic, group, parts, n = "kp-group", "kp-group-1", 2, 1000
    produce(topic, None, n, parts)
    c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=10000, heartbeat_interval_ms=1000,
                      fetch_max_wait_ms=100)
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 600 and time.monotonic() < deadline:
        for recs in c.poll(timeout_ms=500, max_records=50).values():
            got.extend(recs)
    L.expect(len(got) >= 600, "group member consumed %d" % len(got))
    c.commit()
    tps = sorted(c.assignment())
    L.expect(len(tps) == parts, "assignment %s" % tps)
    positions = {tp: c.position(tp) for tp in tps}
    committed = {tp: c.committed(tp) for tp in tps}
    L.expect(committed == positions, "committed %s != positions %s" % (committed, positions))
    c.close(autocommit=False)

    a = admin()
    try:
        groups = {g[0] for g in a.list_consumer_groups()}
        L.expect(group in groups, "list_consumer_groups: %s" % groups)
        offs = a.list_consumer_group_offsets(group)
        L.expect({tp: om.offset for tp, om in offs.items()} == positions, "admin offsets %s" % offs)
    finally:
        a.close()

    # A new member of the group resumes from the committed offsets: the rest, no repeats.
    c2 = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False,
                       auto_offset_reset="earliest", session_timeout_ms=10000, heartbeat_interval_ms=1000,
                       fetch_max_wait_ms=100)
    rest = []
    deadline = time.monotonic() + 30
    while len(got) + len(rest) < n and time.monotonic() < deadline:
        for recs in c2.poll(timeout_ms=500).values():
            rest.extend(recs)
    c2.commit()
    c2.close(autocommit=False)
    keys = [r.key for r in got + rest]
    L.expect(len(keys) == n and len(set(keys)) == n, "consumed %d records (%d distinct) of %d across both members" % (
        len(keys), len(set(keys)), n))


def group_two_members_describe_delete():
    """Two kafka-python members split 4 partitions (range); DescribeGroups shows Stable, both members
    and their assignments; DeleteGroups refuses the live group (NON_EMPTY_GROUP), and once both left
    deletes it with its offsets."""
    L.require_groups(broker.bootstrap)
    import threading
    from kafka.errors import NoError, NonEmptyGroupError
    topic, group, parts = "kp-two", "kp-two-1", 4
    produce(topic, None, 400, parts)
    stop, seen, errors = [False], {}, []

    def member(name):
        try:
            c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group, auto_offset_reset="earliest",
                              enable_auto_commit=True, auto_commit_interval_ms=200, session_timeout_ms=10000,
                              heartbeat_interval_ms=500, fetch_max_wait_ms=100)
            while not stop[0]:
                for recs in c.poll(timeout_ms=200).values():
                    for r in recs:
                        seen[r.key] = seen.get(r.key, 0) + 1
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=member, args=("m%d" % k,)) for k in range(2)]
    a = admin()
    try:
        threads[0].start()
        L.wait_until(lambda: len(seen) == 400, 20, "the first member to consume everything")
        threads[1].start()

        def two_stable():
            d = a.describe_consumer_groups([group])[0]
            return d.state == "Stable" and len(d.members) == 2 and all(m.member_assignment for m in d.members)
        L.wait_until(two_stable, 20, "the group to be Stable with 2 assigned members", interval_s=0.3)
        d = a.describe_consumer_groups([group])[0]
        owned = sorted(p for m in d.members for _, ps in m.member_assignment.assignment for p in ps)
        print("   describe: %s %s/%s, members own %s" % (d.state, d.protocol_type, d.protocol, [
            sorted(p for _, ps in m.member_assignment.assignment for p in ps) for m in d.members]))
        L.expect(d.protocol_type == "consumer" and d.protocol == "range", "protocol %s/%s" % (d.protocol_type, d.protocol))
        L.expect(owned == list(range(parts)), "assignments cover %s" % owned)
        res = dict(a.delete_consumer_groups([group]))
        L.expect(res[group] is NonEmptyGroupError, "deleting the live group: %s" % res)
        stop[0] = True
        for t in threads:
            t.join(30)
        L.expect(not errors, "member errors: %s" % errors)
        L.expect(len(seen) == 400 and set(seen.values()) == {1}, "records consumed: %d distinct, counts %s" % (
            len(seen), sorted(set(seen.values()))))
        offs = a.list_consumer_group_offsets(group)
        L.expect(sorted(om.offset for om in offs.values()) == [100] * parts, "committed offsets %s" % offs)
        res = dict(a.delete_consumer_groups([group]))
        L.expect(res[group] is NoError, "deleting the empty group: %s" % res)
        L.expect(group not in {g[0] for g in a.list_consumer_groups()}, "group still listed after delete")
        L.expect(a.list_consumer_group_offsets(group) == {}, "offsets remain after delete")
    finally:
        stop[0] = True
        a.close()


results = L.Results("test_kafka_python")
broker = L.Broker()
try:
    broker.start()
    results.check("version probe detects a modern broker", api_version_detected)
    results.check("admin: create (and duplicate), list, describe, configs, partitions, delete", admin_topics)
    for codec in (None, "gzip", "snappy", "lz4", "zstd"):
        results.check("produce acks=all + consume with assign, codec %s" % codec, produce_consume, codec)
    results.check("group: subscribe, commit, committed(), resume from committed", group_commit_and_resume)
    results.check("group: two members, describe, delete refused while live, delete when empty",
                  group_two_members_describe_delete)
    results.check("broker still alive", lambda: L.expect(broker.alive(), "floe exited"))
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
