#!/usr/bin/python3
"""A floe cluster on loopback: one controller-only node (the Raft metadata quorum) and three
brokers (process.roles=broker) that follow it as observers, each with its own WAL and metadata
log directory, all sharing one fs object-store directory. Driven by confluent-kafka-python.

Promises checked:
  - every broker registers and is listed by Metadata (from any broker);
  - `floe produce` / `floe consume --group` / `floe group describe`, given one broker, reach each
    partition's leader and the group's coordinator; a running `floe produce` whose partition moves
    resends to the new leader without duplicates, and a running `floe consume` follows it;
  - group requests sent to a broker that is not the coordinator get NOT_COORDINATOR (raw requests),
    the connection stays open;
  - kafkajs admin moves a partition (AlterPartitionReassignments / ListPartitionReassignments, through
    a broker) while a producer writes: the move finishes, Metadata names the new leader, nothing lost;
    `floe cluster reassign` / `reassignments` do the same from the command line;
  - a topic created through one broker has its partitions spread over all three;
  - an idempotent producer bootstrapped at one broker gets every record acknowledged (it follows
    Metadata to each partition's leader), and a consumer group reads every record back (the group
    coordinator runs on the broker leading the group-state partition, FindCoordinator names it);
  - SIGTERM the broker running the group coordinator (controlled shutdown): it exits 0 within a few
    seconds, its partitions (the group state's too: FindCoordinator names another broker) move to
    the others, every acknowledged record is still readable, the partitions take writes again; a
    `floe consume --group` running across it finds the new coordinator, prints every record and
    commits up to the high watermarks there;
  - kill -9 another broker: once fenced its partitions are offline (leader -1: their tail is only in
    its WAL), not moved; after it restarts (same directories, same port) every acknowledged
    record is there and its partitions take writes again;
  - the controller goes away for longer than broker.session.timeout.ms: the brokers refuse writes
    (lease); once it is back, writes are acknowledged again;
  - a second cluster of 3 controllers and 2 brokers: SIGKILL the controller leader; the brokers
    send their controller writes (CreateTopics, CreatePartitions, AlterConfigs, DeleteTopics) to
    the new leader, and every acknowledged record is read back; the old leader rejoins.
When the controller does not fence brokers yet (no placement in this build: a stopped broker stays
listed), the move check is skipped, not passed. Bounded: well under 90 s; every floe is SIGKILLed
at exit.
"""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as lib  # noqa: E402

lib.reexec_under_debian_python()

from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "spread"
PARTITIONS = 6
CONTROLLER_ID = 100


class Controller(lib.Broker):
    """A controller-only node: its 'serving' line differs, so wait for it ourselves. `quorum` lists
    every controller of the cluster (voters), self included."""

    def __init__(self, root, node_id=CONTROLLER_ID, quorum=None):
        super().__init__(data_dir=os.path.join(root, "controller%d" % node_id))
        os.makedirs(self.dir, exist_ok=True)
        self.port = lib.free_port()
        self.node_id = node_id
        self.quorum = quorum if quorum is not None else [self]

    @property
    def voters(self):
        return ",".join("%d@127.0.0.1:%d" % (c.node_id, c.port) for c in self.quorum)

    def command(self):
        return [lib.FLOE_BIN, "serve",
                "--override", "process.roles=controller",
                "--override", "node.id=%d" % self.node_id,
                "--override", "listeners=CONTROLLER://127.0.0.1:%d" % self.port,
                "--override", "controller.quorum.voters=" + self.voters,
                "--override", "broker.session.timeout.ms=4000",
                "--override", "data.dir=%s" % os.path.join(self.dir, "data")]

    def spawn(self):
        """Starts the process (from the main thread: PR_SET_PDEATHSIG is per thread)."""
        import subprocess
        import threading
        self.starts += 1
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log, cwd=self.dir,
                                     preexec_fn=lib._die_with_parent)
        lib._running.add(self)
        log.close()
        self.ready = threading.Event()

        def pump(out, ready):
            with open(self.log_path, "ab") as f:
                for line in out:
                    f.write(line)
                    f.flush()
                    if b"serving the metadata quorum" in line:
                        ready.set()
            ready.set()

        threading.Thread(target=pump, args=(self.proc.stdout, self.ready), daemon=True).start()

    def wait_ready(self, timeout_s=70):
        """A voter serves once the quorum elected a leader: spawn every voter before waiting."""
        if not self.ready.wait(timeout_s) or self.proc.poll() is not None:
            tail = self.log_tail()
            self.kill()
            raise RuntimeError("controller %d did not start; log tail:\n%s" % (self.node_id, tail))
        return self

    def _start_once(self):
        self.spawn()
        return self.wait_ready()


class ClusterBroker(lib.Broker):
    def __init__(self, node_id, root, controller, objects_dir):
        super().__init__(data_dir=os.path.join(root, "broker%d" % node_id), overrides={
            "process.roles": "broker",
            "node.id": str(node_id),
            "controller.quorum.voters": controller.voters,
            "s3.data.buckets": "0@fs://" + objects_dir,
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "4000",
        })
        os.makedirs(self.dir, exist_ok=True)
        self.node_id = node_id

    def command(self):
        cmd = [lib.FLOE_BIN, "serve",
               "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
               "--override", "data.dir=%s" % os.path.join(self.dir, "data")]
        keys = lib.known_config_keys()
        for k, v in self.overrides.items():
            if k in keys:
                cmd += ["--override", "%s=%s" % (k, v)]
        return cmd


root = lib.temp_dir("floe-multibroker-")
objects = os.path.join(root, "objects")
os.makedirs(objects)
controller = Controller(root)
brokers = {}
results = lib.Results("test_multibroker")
acked = set()  # values of acknowledged records
state = {"stopped": ()}  # brokers left stopped by the SIGTERM check


def bootstrap(exclude=()):
    return ",".join(b.bootstrap for i, b in sorted(brokers.items()) if i not in exclude and b.alive())


def metadata(exclude=()):
    admin = AdminClient({"bootstrap.servers": bootstrap(exclude)})
    return admin.list_topics(timeout=10)


def leaders(md):
    return {p.id: p.leader for p in md.topics[TOPIC].partitions.values()}


def produce(count, tag, exclude=()):
    producer = Producer({"bootstrap.servers": bootstrap(exclude), "enable.idempotence": True,
                         "linger.ms": 5, "message.timeout.ms": 30000})
    errors = []

    def on_delivery(err, msg):
        if err is None:
            acked.add(msg.value())
        else:
            errors.append(str(err))

    for i in range(count):
        producer.produce(TOPIC, value=b"%s-%d" % (tag.encode(), i), key=b"%d" % i, on_delivery=on_delivery)
        if i % 100 == 0:
            producer.poll(0)
    left = producer.flush(40)
    lib.expect(left == 0, "%d records unacknowledged" % left)
    lib.expect(not errors, "delivery errors: %s" % errors[:3])


def consume_all(group, exclude=(), timeout_s=30):
    consumer = Consumer({"bootstrap.servers": bootstrap(exclude), "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    got = set()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not acked <= got:
            m = consumer.poll(0.5)
            if m is None or m.error():
                continue
            got.add(m.value())
    finally:
        consumer.close()
    missing = acked - got
    lib.expect(not missing, "%d of %d acknowledged records not read back (e.g. %s)" % (
        len(missing), len(acked), sorted(missing)[:3]))


def start_cluster():
    controller.start()
    for i in (1, 2, 3):
        brokers[i] = ClusterBroker(i, root, controller, objects)
    for b in brokers.values():
        b.start()
    lib.wait_until(lambda: len(metadata().brokers) == 3, 15, "three brokers in Metadata")


def topic_spreads():
    admin = AdminClient({"bootstrap.servers": brokers[1].bootstrap})
    futures = admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
    futures[TOPIC].result(15)

    def all_led():
        md = metadata()
        return TOPIC in md.topics and len(md.topics[TOPIC].partitions) == PARTITIONS and \
            all(l >= 0 for l in leaders(md).values())
    lib.wait_until(all_led, 15, "every partition to have a leader")
    # A broker still opening a partition reports it leaderless for a moment: ask until stable.
    lib.wait_until(lambda: set(leaders(metadata()).values()) == {1, 2, 3}, 10,
                   "partitions spread over the three brokers (leaders %s)" % leaders(metadata()))


def produce_and_consume():
    produce(600, "first")
    lib.expect(len(acked) == 600, "acknowledged %d of 600" % len(acked))
    consume_all("group-first")


def floe_cli_routes_to_leaders():
    """`floe produce` / `floe consume` / `floe group describe` given one broker's address: records
    go to (and are read from) each partition's leader on the three brokers; the group's offsets
    are committed to its coordinator wherever it is."""
    import subprocess
    one = ["--bootstrap-server", brokers[1].bootstrap]
    values = [b"floe-cli-%d" % i for i in range(300)]
    lines = b"".join(b"k%d:%s\n" % (i, v) for i, v in enumerate(values))
    p = subprocess.run([lib.FLOE_BIN, "produce"] + one + ["--topic", TOPIC, "--key-separator", ":"], input=lines,
                       capture_output=True, timeout=60)
    lib.expect(p.returncode == 0 and b"300 acknowledged" in p.stderr, "floe produce: rc %d %s" % (p.returncode, p.stderr))
    acked.update(values)
    p = subprocess.run([lib.FLOE_BIN, "consume"] + one + ["--topic", TOPIC, "--offset", "beginning", "--group",
                       "floe-cli", "--max-messages", str(len(acked)), "--timeout-ms", "15000"],
                       capture_output=True, timeout=90)
    lib.expect(p.returncode == 0, "floe consume: rc %d %s" % (p.returncode, p.stderr))
    missing = acked - set(p.stdout.splitlines())
    lib.expect(not missing, "floe consume missed %d of %d records (e.g. %s)" % (len(missing), len(acked), sorted(missing)[:3]))
    p = subprocess.run([lib.FLOE_BIN, "group", "describe"] + one + ["--group", "floe-cli"], capture_output=True,
                       text=True, timeout=60)
    rows = [l.split() for l in p.stdout.splitlines() if l.startswith("floe-cli ")]
    lib.expect(p.returncode == 0 and len(rows) == PARTITIONS and all(r[5] == "0" for r in rows),
               "floe group describe: rc %d %s %s" % (p.returncode, p.stdout, p.stderr))


def find_coordinator(group):
    """Raw FindCoordinator v0 (this client has no API for it) -> the coordinator's node id."""
    import socket
    import struct
    key = group.encode()
    b = next(b for b in brokers.values() if b.alive())
    with socket.create_connection(("127.0.0.1", b.port), timeout=5) as sock:
        sock.sendall(lib.kafka_request(10, 0, 1, struct.pack(">h", len(key)) + key))
        resp = lib.recv_frame(sock)
    err, node = struct.unpack_from(">hi", resp, 4)
    lib.expect(err == 0, "FindCoordinator error %d" % err)
    return node


def group_requests_to_a_non_coordinator():
    """Raw JoinGroup v0, Heartbeat v0, OffsetCommit v2 and ListGroups v0 to a broker that is not the
    group coordinator: NOT_COORDINATOR (16), ListGroups no groups and no error, and the connection
    stays open through all four (the client would re-find the coordinator and resend)."""
    import socket
    import struct
    coordinator = find_coordinator("group-wrong-broker")
    other = next(b for i, b in sorted(brokers.items()) if i != coordinator and b.alive())
    group = lib._kstr("group-wrong-broker")
    with socket.create_connection(("127.0.0.1", other.port), timeout=10) as sock:
        join = group + struct.pack(">i", 10000) + lib._kstr("") + lib._kstr("consumer") + struct.pack(">i", 1)
        join += lib._kstr("range") + struct.pack(">i", 0)
        sock.sendall(lib.kafka_request(11, 0, 1, join))
        corr, err = struct.unpack_from(">ih", lib.recv_frame(sock))
        lib.expect((corr, err) == (1, 16), "JoinGroup: correlation %d error %d, not NOT_COORDINATOR" % (corr, err))
        sock.sendall(lib.kafka_request(12, 0, 2, group + struct.pack(">i", 1) + lib._kstr("member")))
        corr, err = struct.unpack_from(">ih", lib.recv_frame(sock))
        lib.expect((corr, err) == (2, 16), "Heartbeat: correlation %d error %d" % (corr, err))
        commit = group + struct.pack(">i", -1) + lib._kstr("") + struct.pack(">q", -1) + struct.pack(">i", 1)
        commit += lib._kstr(TOPIC) + struct.pack(">i", 1) + struct.pack(">iq", 0, 5) + lib._kstr("")
        sock.sendall(lib.kafka_request(8, 2, 3, commit))
        resp = lib.recv_frame(sock)
        (corr,) = struct.unpack_from(">i", resp)
        pos = 4 + 4 + 2 + len(TOPIC) + 4  # topics count, name, partitions count
        part, err = struct.unpack_from(">ih", resp, pos)
        lib.expect((corr, part, err) == (3, 0, 16), "OffsetCommit: correlation %d partition %d error %d" % (corr, part, err))
        sock.sendall(lib.kafka_request(16, 0, 4))
        corr, err, count = struct.unpack_from(">ihi", lib.recv_frame(sock))
        lib.expect((corr, err, count) == (4, 0, 0), "ListGroups: correlation %d error %d groups %d" % (corr, err, count))


def kafkajs_reassigns_while_producing():
    """kafkajs admin moves a partition (AlterPartitionReassignments through a broker, forwarded to
    the controller) while an idempotent producer keeps writing: the move finishes
    (ListPartitionReassignments empties), Metadata names the new leader, nothing acknowledged is
    lost, and the moved partition takes writes on its new leader."""
    import subprocess
    import threading
    clients = os.path.join(lib.REPO, "tests", "clients")
    if shutil.which("node") is None or not os.path.isdir(os.path.join(clients, "node_modules", "kafkajs")):
        raise lib.Skip("node or the kafkajs package (tests/clients: npm ci) is not available")
    before = leaders(metadata())
    source = before[0]
    target = next(i for i in sorted(brokers) if i != source and brokers[i].alive())
    other = next(i for i in sorted(brokers) if i not in (source, target))
    stop = threading.Event()
    failures = []

    def keep_producing():
        n = 0
        try:
            while not stop.is_set():
                produce(50, "during-move-%d" % n)
                n += 1
        except Exception as e:  # noqa: BLE001 (reported by the main thread)
            failures.append(e)
    writer = threading.Thread(target=keep_producing, daemon=True)
    writer.start()
    try:
        time.sleep(0.5)
        p = subprocess.run(["node", os.path.join(clients, "kafkajs-reassign.js"), bootstrap(), TOPIC, "0",
                            str(target), str(other)], capture_output=True, text=True, timeout=90, cwd=clients)
        for line in p.stdout.splitlines():
            print("   " + line)
        lib.expect(p.returncode == 0, "kafkajs-reassign exited %d: %s %s" % (p.returncode, p.stdout[-1500:],
                                                                           p.stderr[-1500:]))
        time.sleep(0.5)
    finally:
        stop.set()
        writer.join(60)
    lib.expect(not failures, "producing during the move: %s" % failures[:1])
    lib.expect(leaders(metadata())[0] == target, "partition 0 led by %d, not %d" % (leaders(metadata())[0], target))
    produce(100, "after-move")
    consume_all("group-after-move")


def cli_reassigns():
    """`floe cluster reassign` moves partition 1 (exit 0), `floe cluster reassignments` lists nothing
    once the move finished, Metadata names the new leader; an unregistered broker: exit 1 and
    INVALID_REPLICA_ASSIGNMENT's code (39) in the message."""
    import subprocess
    source = leaders(metadata())[1]
    target = next(i for i in sorted(brokers) if i != source and brokers[i].alive())
    base = [lib.FLOE_BIN, "cluster"]
    server = ["--bootstrap-server", brokers[target].bootstrap]
    bad = subprocess.run(base + ["reassign"] + server + ["--topic", TOPIC, "--partition", "1", "--broker", "99"],
                         capture_output=True, text=True, timeout=30)
    lib.expect(bad.returncode == 1 and "error 39" in bad.stderr, "broker 99: rc %d %s" % (bad.returncode, bad.stderr))
    ok = subprocess.run(base + ["reassign"] + server + ["--topic", TOPIC, "--partition", "1", "--broker", str(target)],
                        capture_output=True, text=True, timeout=30)
    lib.expect(ok.returncode == 0, "reassign: rc %d %s %s" % (ok.returncode, ok.stdout, ok.stderr))

    def finished():
        listed = subprocess.run(base + ["reassignments"] + server + ["--topic", TOPIC], capture_output=True,
                                text=True, timeout=30)
        lib.expect(listed.returncode == 0, "reassignments: rc %d %s" % (listed.returncode, listed.stderr))
        return len(listed.stdout.strip().splitlines()) == 1  # the header only
    lib.wait_until(finished, 30, "the CLI's move to finish")
    lib.wait_until(lambda: leaders(metadata())[1] == target, 10, "partition 1 led by broker %d" % target)
    produce(50, "after-cli-move")
    consume_all("group-after-cli-move")


def floe_produce_follows_a_leader_move():
    """A running `floe produce` whose partition moves to another broker: its next batch is answered
    NOT_LEADER_OR_FOLLOWER by the old leader, it refreshes Metadata and resends the same batch
    (same sequence numbers) to the new one; every line is acknowledged exactly once. A running
    `floe consume` of that partition follows the move too and prints all 40 lines in order."""
    import subprocess
    from confluent_kafka import KafkaException, TopicPartition
    part = 2
    source = leaders(metadata())[part]
    target = next(i for i in sorted(brokers) if i != source and brokers[i].alive())

    def high():
        # A new client each time: one that asked before the move keeps asking the old leader.
        deadline = time.monotonic() + 30
        while True:
            probe = Consumer({"bootstrap.servers": bootstrap(), "group.id": "floe-move-probe"})
            try:
                return probe.get_watermark_offsets(TopicPartition(TOPIC, part), timeout=10)[1]
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                probe.close()
    start = high()
    # A floe consume reading the partition from `start` across the move.
    reader = subprocess.Popen([lib.FLOE_BIN, "consume", "--bootstrap-server", brokers[1].bootstrap, "--topic", TOPIC,
                               "--partition", str(part), "--offset", str(start), "--max-messages", "40",
                               "--timeout-ms", "60000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc = subprocess.Popen([lib.FLOE_BIN, "produce", "--bootstrap-server", brokers[1].bootstrap, "--topic", TOPIC,
                             "--partition", str(part)], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        before = [b"floe-move-a-%d" % i for i in range(20)]
        proc.stdin.write(b"".join(v + b"\n" for v in before))
        proc.stdin.flush()
        lib.wait_until(lambda: high() >= start + 20, 30, "the first 20 lines on partition %d" % part)
        moved = subprocess.run([lib.FLOE_BIN, "cluster", "reassign", "--bootstrap-server", brokers[target].bootstrap,
                                "--topic", TOPIC, "--partition", str(part), "--broker", str(target)],
                               capture_output=True, text=True, timeout=30)
        lib.expect(moved.returncode == 0, "reassign: %s" % moved.stderr)
        lib.wait_until(lambda: leaders(metadata())[part] == target, 30, "partition %d led by %d" % (part, target))
        after = [b"floe-move-b-%d" % i for i in range(20)]
        proc.stdin.write(b"".join(v + b"\n" for v in after))
        proc.stdin.close()
        err = proc.stderr.read().decode()
        rc = proc.wait(timeout=90)
        read_out, read_err = reader.communicate(timeout=120)
    finally:
        for p in (proc, reader):
            if p.poll() is None:
                p.kill()
                p.wait()
    lib.expect(rc == 0 and "40 acknowledged" in err, "floe produce: rc %d %s" % (rc, err))
    lib.expect(reader.returncode == 0 and read_out.splitlines() == before + after,
               "floe consume across the move: rc %d, %d lines, %s" % (reader.returncode, len(read_out.splitlines()),
                                                                     read_err.decode(errors="replace")))
    lib.expect("NOT_LEADER_OR_FOLLOWER" in err, "the move was not noticed (no retry): %s" % err)
    lib.wait_until(lambda: high() >= start + 40, 30, "40 lines on partition %d" % part)
    lib.expect(high() == start + 40, "partition %d grew by %d, not 40 (duplicates?)" % (part, high() - start))
    acked.update(before + after)


def watermarks(exclude=()):
    """{partition: (low, high)} of TOPIC, or None while a partition is moving (a client error)."""
    from confluent_kafka import KafkaException, TopicPartition
    probe = Consumer({"bootstrap.servers": bootstrap(exclude), "group.id": "floe-watermark-probe"})
    try:
        return {p: probe.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10) for p in range(PARTITIONS)}
    except KafkaException:
        return None
    finally:
        probe.close()


def committed_offsets(group, exclude=()):
    """{partition: committed offset} of `group` on TOPIC (asked of its coordinator), or None while
    the coordinator is moving."""
    from confluent_kafka import KafkaException, TopicPartition
    probe = Consumer({"bootstrap.servers": bootstrap(exclude), "group.id": group})
    try:
        got = probe.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in got}
    except KafkaException:
        return None
    finally:
        probe.close()


def settled(fn, what, timeout_s=30):
    """fn()'s first answer that is not None, asked until timeout_s."""
    box = []
    lib.wait_until(lambda: box.append(fn()) or box[-1] is not None, timeout_s, what, interval_s=0.2)
    return box[-1]


def sigterm_moves_partitions():
    """SIGTERM the broker running the group coordinator while a `floe consume --group`, bootstrapped
    at another broker, reads the topic: the consumer finds the coordinator again (the commit to the
    old one fails) and commits there; it prints every record, and its group's committed offsets end
    at the high watermarks of all partitions, including records produced after the move."""
    import subprocess
    group = "floe-follows-coordinator"
    vid = find_coordinator(group)
    victim = brokers[vid]
    rest = tuple(i for i in sorted(brokers) if i != vid)
    before = settled(watermarks, "the watermarks of every partition")
    out_path, err_path = os.path.join(root, "coordinator-move.out"), os.path.join(root, "coordinator-move.err")
    after_count = 200
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        reader = subprocess.Popen([lib.FLOE_BIN, "consume", "--bootstrap-server", brokers[rest[0]].bootstrap,
                                   "--topic", TOPIC, "--offset", "beginning", "--group", group,
                                   "--max-messages", str(sum(h - l for l, h in before.values()) + after_count),
                                   "--timeout-ms", "90000"], stdout=out, stderr=err)
    try:
        # Caught up, and committed to the coordinator that is about to go.
        highs = {p: h for p, (l, h) in before.items()}
        lib.wait_until(lambda: committed_offsets(group) == highs, 60, "floe consume to commit the high watermarks")
        t0 = time.monotonic()
        rc = victim.stop(timeout_s=30)
        took = time.monotonic() - t0
        lib.expect(rc == 0, "broker %d exited with %s after SIGTERM" % (vid, rc))
        lib.expect(took < 20, "controlled shutdown took %.1f s" % took)
        # A controller without fencing keeps listing the stopped broker: nothing can move then.
        time.sleep(1.0)
        if vid in metadata(exclude=(vid,)).brokers:
            victim.start()  # its partitions cannot move: bring it back for the next check
            raise lib.Skip("the controller still lists the stopped broker: no fencing/placement in this build")

        def moved():
            ls = leaders(metadata(exclude=(vid,)))
            return all(l in rest for l in ls.values())
        state["stopped"] = (vid,)
        state["fencing"] = True
        lib.wait_until(moved, 10, "broker %d's partitions to move to brokers %s" % (vid, rest))
        lib.wait_until(lambda: find_coordinator("group-after-sigterm") in rest, 10, "the group coordinator to move")
        consume_all("group-after-sigterm", exclude=(vid,))
        produce(after_count, "after-sigterm", exclude=(vid,))
        consume_all("group-after-sigterm-2", exclude=(vid,))
        reader.wait(timeout=150)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    with open(out_path, "rb") as f:
        printed = f.read().splitlines()
    with open(err_path, "rb") as f:
        err = f.read().decode(errors="replace")
    lib.expect(reader.returncode == 0, "floe consume across the coordinator move: rc %d %s" % (reader.returncode, err))
    missing = acked - set(printed)
    lib.expect(not missing, "floe consume missed %d of %d acknowledged records (e.g. %s)" % (
        len(missing), len(acked), sorted(missing)[:3]))
    lib.expect("finding the group coordinator again" in err, "the coordinator move was not noticed: %s" % err)
    after = settled(lambda: watermarks(exclude=(vid,)), "the watermarks after the move")
    committed = settled(lambda: committed_offsets(group, exclude=(vid,)), "the committed offsets after the move")
    lib.expect(committed == {p: h for p, (l, h) in after.items()},
               "committed %s, high watermarks %s" % (committed, after))
    lib.expect(sum(committed.values()) == sum(highs.values()) + after_count,
               "the committed offsets grew by %d, not %d" % (sum(committed.values()) - sum(highs.values()), after_count))


def kill9_then_restart():
    vid = max(i for i in brokers if i not in state["stopped"])
    victim = brokers[vid]
    before = leaders(metadata(exclude=state["stopped"]))
    victim.kill()
    if state.get("fencing"):
        # Its streams are still open by it (their tail is only in its WAL): once the controller
        # fences it (session timeout), its partitions go offline rather than elsewhere.
        others = state["stopped"] + (vid,)
        lib.wait_until(lambda: vid not in metadata(exclude=others).brokers, 15, "broker %d to be fenced" % vid)
        offline = leaders(metadata(exclude=others))
        for p, leader in before.items():
            if leader == vid:
                lib.expect(offline[p] == -1, "partition %d of the killed broker led by %d, not offline" % (p, offline[p]))
    else:
        time.sleep(0.5)
    victim.start()
    lib.wait_until(lambda: vid in metadata().brokers, 15, "broker %d back in Metadata" % vid)

    def all_led():
        return all(l >= 0 for l in leaders(metadata()).values())
    lib.wait_until(all_led, 20, "every partition to have a leader again")
    consume_all("group-after-kill9", exclude=state["stopped"])
    produce(200, "after-kill9", exclude=state["stopped"])
    consume_all("group-after-kill9-2", exclude=state["stopped"])


def lease_without_quorum():
    """The controller goes away: after broker.session.timeout.ms the brokers refuse writes (their
    lease ran out: the controller could have moved the partitions); back, writes work again."""
    live = state["stopped"]
    controller.kill()
    time.sleep(5.0)  # > broker.session.timeout.ms (4 s)
    refused = []
    producer = Producer({"bootstrap.servers": bootstrap(live), "message.timeout.ms": 2500, "retries": 1000})
    producer.produce(TOPIC, value=b"during-outage", on_delivery=lambda err, msg: refused.append(err))
    producer.flush(10)
    lib.expect(len(refused) == 1 and refused[0] is not None,
               "a write was accepted while the brokers had no controller: %s" % refused)
    controller.start()
    produce(100, "after-outage", exclude=live)
    consume_all("group-after-outage", exclude=live)


def controller_failover():
    """Phase 2: a fresh cluster of 3 controllers and 2 brokers; SIGKILL the controller leader while
    the brokers serve: writes that need the controller (a new topic, uploads, producer ids) go to
    the new leader, and every acknowledged record is read back."""
    global controller
    import test_quorum_kill9 as q
    for b in list(brokers.values()) + [controller]:
        b.kill()
    brokers.clear()
    acked.clear()
    state["stopped"] = ()
    root2 = os.path.join(root, "quorum")
    objects2 = os.path.join(root2, "objects")
    os.makedirs(objects2)
    quorum = []
    for i in (101, 102, 103):
        quorum.append(Controller(root2, i, quorum))
    for c in quorum:
        c.spawn()
    for c in quorum:
        c.wait_ready()
    controller = quorum[0]
    for i in (1, 2):
        brokers[i] = ClusterBroker(i, root2, quorum[0], objects2)
        brokers[i].start()
    lib.wait_until(lambda: len(metadata().brokers) == 2, 15, "two brokers in Metadata")
    # The quorum's first leader bootstraps the cluster: an id every broker reports.
    lib.wait_until(lambda: metadata().cluster_id, 15, "a cluster id from the quorum")
    cluster_id = metadata().cluster_id
    lib.expect(all(metadata(exclude=(i,)).cluster_id == cluster_id for i in (1, 2)),
               "the brokers report different cluster ids")
    admin = AdminClient({"bootstrap.servers": bootstrap()})
    admin.create_topics([NewTopic(TOPIC, 4, 1)])[TOPIC].result(15)
    lib.wait_until(lambda: set(leaders(metadata()).values()) == {1, 2}, 15, "partitions on both brokers")
    produce(300, "before-failover")

    leader_id = q.describe_quorum(quorum[0].port)["leader"]
    old = next(c for c in quorum if c.node_id == leader_id)
    old.kill()
    survivors = [c for c in quorum if c is not old]

    def new_leader():
        try:
            l = q.describe_quorum(survivors[0].port)["leader"]
        except OSError:
            return False
        return l not in (-1, leader_id)
    lib.wait_until(new_leader, 20, "a new controller leader")
    lib.expect(metadata().cluster_id == cluster_id, "the cluster id changed with the controller leader")
    # A write through the controller: a new topic, created through a broker.
    admin = AdminClient({"bootstrap.servers": bootstrap()})
    admin.create_topics([NewTopic("after-failover", 2, 1)])["after-failover"].result(30)
    lib.wait_until(lambda: "after-failover" in metadata().topics, 10, "the new topic in Metadata")
    produce(300, "after-failover")
    consume_all("group-failover")
    # The other controller writes a broker forwards: CreatePartitions, AlterConfigs, DeleteTopics.
    from confluent_kafka.admin import ConfigResource, NewPartitions
    admin.create_partitions([NewPartitions("after-failover", 3)])["after-failover"].result(15)
    def partition_count(topic):
        # Each broker replays the metadata log on its own: one just asked may not have the topic yet.
        t = metadata().topics.get(topic)
        return len(t.partitions) if t is not None else 0
    lib.wait_until(lambda: partition_count("after-failover") == 3, 10, "3 partitions")
    res = ConfigResource(ConfigResource.Type.TOPIC, "after-failover", set_config={"retention.ms": "3600000"})
    list(admin.alter_configs([res]).values())[0].result(15)
    described = list(admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "after-failover")])
                     .values())[0].result(15)
    lib.expect(described["retention.ms"].value == "3600000", "retention.ms is %s" % described["retention.ms"].value)
    admin.delete_topics(["after-failover"])["after-failover"].result(15)
    lib.wait_until(lambda: "after-failover" not in metadata().topics, 10, "the deleted topic to disappear")
    old.spawn()
    old.wait_ready()


try:
    if results.check("cluster starts: 1 controller + 3 brokers, all in Metadata", start_cluster):
        if results.check("a 6-partition topic spreads over the brokers", topic_spreads):
            if results.check("produce 600 (idempotent) through one bootstrap, consume all in a group",
                             produce_and_consume):
                results.check("floe produce/consume/group describe through one broker reach every leader",
                              floe_cli_routes_to_leaders)
                results.check("group requests to a broker that is not the coordinator: NOT_COORDINATOR, "
                              "connection kept", group_requests_to_a_non_coordinator)
                results.check("kafkajs moves a partition while producing: Metadata follows, nothing lost",
                              kafkajs_reassigns_while_producing)
                results.check("floe cluster reassign / reassignments move a partition", cli_reassigns)
                results.check("floe produce resends to a partition's new leader after a move, no duplicates",
                              floe_produce_follows_a_leader_move)
                results.check("SIGTERM the coordinator's broker: controlled shutdown, partitions move, nothing lost, "
                              "floe consume --group commits to the new coordinator",
                              sigterm_moves_partitions)
                results.check("kill -9 a broker, restart it: every acknowledged record is there",
                              kill9_then_restart)
                results.check("no controller for longer than the session timeout: writes refused, then back",
                              lease_without_quorum)
    results.check("3 controllers + 2 brokers: SIGKILL the controller leader, brokers follow the new one",
                  controller_failover)
finally:
    failed = bool(results.failed)
    if failed:
        for name, b in [("controller", controller)] + [("broker %d" % i, b) for i, b in sorted(brokers.items())]:
            print("---- %s log tail ----\n%s" % (name, b.log_tail(25)))
    for b in list(brokers.values()) + list(lib._running):
        b.kill()
    if not os.environ.get("FLOE_KEEP_TEST_DIRS"):
        shutil.rmtree(root, ignore_errors=True)
results.finish()
