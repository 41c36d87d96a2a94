#!/usr/bin/python3
"""Three controller-only `floe serve` processes form a Raft metadata quorum on loopback; a writer
creates topics in a loop against whichever node leads (following NOT_CONTROLLER via
DescribeQuorum), and the leader is SIGKILLed, several rounds. Promises checked per round:
  - a new leader appears among the survivors within a few election timeouts;
  - every topic whose CreateTopics was acknowledged is in the new leader's committed Metadata;
  - the old leader, restarted on its same data dir and port, rejoins and catches up: the leader's
    DescribeQuorum shows its log end offset reaching the high watermark seen after the restart.
Bounded: the whole run stays well under 60 s; every floe is SIGKILLed at exit.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as lib  # noqa: E402

lib.reexec_under_debian_python()

NOT_CONTROLLER = 41
TOPIC_ALREADY_EXISTS = 36
ROUNDS = 3


# ---- raw Kafka requests ----------------------------------------------------------------------

def _call(port, frame, timeout_s=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.settimeout(timeout_s)
        s.sendall(frame)
        return lib.recv_frame(s)


def describe_quorum(port):
    """DescribeQuorum v1 -> dict(leader, epoch, hw, voters={id: (leo, last_fetch, caught_up)})."""
    name = b"__cluster_metadata"
    body = b"\x02" + bytes([len(name) + 1]) + name + b"\x02" + struct.pack(">i", 0) + b"\x00" + b"\x00" + b"\x00"
    resp = _call(port, lib.kafka_request(55, 1, 7, body, flexible=True))
    pos = 4  # correlation id
    _, pos = lib.read_uvarint(resp, pos)  # header tagged fields
    (err,) = struct.unpack_from(">h", resp, pos)
    pos += 2
    n_topics, pos = lib.read_uvarint(resp, pos)
    assert err == 0 and n_topics == 2, "DescribeQuorum error %d topics %d" % (err, n_topics - 1)
    name_len, pos = lib.read_uvarint(resp, pos)
    pos += name_len - 1
    n_parts, pos = lib.read_uvarint(resp, pos)
    assert n_parts == 2
    _index, _perr, leader, epoch, hw = struct.unpack_from(">ihiiq", resp, pos)
    pos += 22
    replicas = []
    for _ in range(2):  # voters, observers
        count, pos = lib.read_uvarint(resp, pos)
        group = {}
        for _ in range(count - 1):
            rid, leo, last_fetch, caught_up = struct.unpack_from(">iqqq", resp, pos)
            pos += 28
            _, pos = lib.read_uvarint(resp, pos)
            group[rid] = (leo, last_fetch, caught_up)
        replicas.append(group)
    return {"leader": leader, "epoch": epoch, "hw": hw, "voters": replicas[0], "observers": replicas[1]}


def create_topic(port, name):
    """CreateTopics v4 of one topic -> (error_code, message)."""
    n = name.encode()
    body = struct.pack(">i", 1) + struct.pack(">h", len(n)) + n + struct.pack(">ihii", 1, 1, 0, 0)
    body += struct.pack(">i?", 5000, False)
    resp = _call(port, lib.kafka_request(19, 4, 9, body), timeout_s=6.0)
    pos = 4 + 4  # correlation id, throttle
    (count,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    assert count == 1
    (nlen,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + nlen
    (err, mlen) = struct.unpack_from(">hh", resp, pos)
    pos += 4
    msg = resp[pos:pos + mlen].decode() if mlen >= 0 else None
    return err, msg


def metadata_topics(port):
    """Metadata v1 (all topics) -> set of topic names in the node's committed image."""
    resp = _call(port, lib.kafka_request(3, 1, 11, struct.pack(">i", -1)))
    pos = 4
    (n_brokers,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    for _ in range(n_brokers):
        pos += 4
        (hl,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + hl + 4
        (rl,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + max(rl, 0)
    pos += 4  # controller id
    (n_topics,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    names = set()
    for _ in range(n_topics):
        pos += 2
        (nl,) = struct.unpack_from(">h", resp, pos)
        names.add(resp[pos + 2:pos + 2 + nl].decode())
        pos += 2 + nl + 1
        (n_parts,) = struct.unpack_from(">i", resp, pos)
        pos += 4
        for _ in range(n_parts):
            pos += 2 + 4 + 4
            for _ in range(2):
                (k,) = struct.unpack_from(">i", resp, pos)
                pos += 4 + 4 * k
    return names


# ---- the cluster -----------------------------------------------------------------------------

class Controller:
    def __init__(self, node_id, ports, root):
        self.id = node_id
        self.ports = ports
        self.port = ports[node_id]
        self.dir = os.path.join(root, "c%d" % node_id)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.log = os.path.join(self.dir, "floe.log")

    def start(self):
        voters = ",".join("%d@127.0.0.1:%d" % (i, p) for i, p in sorted(self.ports.items()))
        cmd = [lib.FLOE_BIN, "serve",
               "--override", "process.roles=controller",
               "--override", "node.id=%d" % self.id,
               "--override", "listeners=CONTROLLER://127.0.0.1:%d" % self.port,
               "--override", "controller.quorum.voters=" + voters,
               "--override", "data.dir=%s" % os.path.join(self.dir, "data")]
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=lib._die_with_parent)
        out.close()

    def wait_serving(self, timeout_s=30):
        def serving():
            if self.proc.poll() is not None:
                raise AssertionError("controller %d exited with %d:\n%s" % (self.id, self.proc.returncode, self.tail()))
            with open(self.log, "rb") as f:
                return b"serving the metadata quorum" in f.read()
        lib.wait_until(serving, timeout_s, "controller %d to serve" % self.id)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=30):
        try:
            with open(self.log, "rb") as f:
                return b"".join(f.read().splitlines(True)[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Writer(threading.Thread):
    """Creates topics w-0, w-1, ... against the leader; remembers the acknowledged ones."""

    def __init__(self, nodes):
        super().__init__(daemon=True)
        self.nodes = nodes
        self.acked = set()
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.leader_port = None
        self.attempts = 0

    def find_leader(self):
        for node in self.nodes.values():
            if not node.alive():
                continue
            try:
                q = describe_quorum(node.port)
            except (OSError, AssertionError, struct.error, IndexError):
                continue
            if q["leader"] in self.nodes and self.nodes[q["leader"]].alive():
                return self.nodes[q["leader"]].port
        return None

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            if self.leader_port is None:
                self.leader_port = self.find_leader()
                if self.leader_port is None:
                    time.sleep(0.05)
                    continue
            name = "w-%d" % n
            self.attempts += 1
            try:
                err, _msg = create_topic(self.leader_port, name)
            except (OSError, struct.error, IndexError, AssertionError):
                self.leader_port = None
                continue  # retry the same name at the (new) leader
            if err in (0, TOPIC_ALREADY_EXISTS):
                with self.lock:
                    self.acked.add(name)
                n += 1
            elif err == NOT_CONTROLLER:
                self.leader_port = None
                time.sleep(0.02)
            else:
                raise AssertionError("CreateTopics %s: error %d" % (name, err))

    def snapshot(self):
        with self.lock:
            return set(self.acked)


def teardown(results, nodes, root):
    """Kills every controller; on failure prints their log tails, on success removes `root`."""
    if results.failed:
        for node in nodes.values():
            print("---- controller %d log tail ----\n%s" % (node.id, node.tail()))
    for node in nodes.values():
        node.kill9()
    if not results.failed and not os.environ.get("FLOE_KEEP_TEST_DIRS"):
        shutil.rmtree(root, ignore_errors=True)


def leader_of(nodes, exclude=()):
    """The leader the live nodes agree on (not in exclude), else None."""
    seen = set()
    for node in nodes.values():
        if not node.alive() or node.id in exclude:
            continue
        try:
            seen.add(describe_quorum(node.port)["leader"])
        except (OSError, AssertionError, struct.error, IndexError):
            return None
    if len(seen) == 1:
        leader = seen.pop()
        if leader in nodes and leader not in exclude and nodes[leader].alive():
            return leader
    return None


def main():
    results = lib.Results("quorum kill -9")
    root = lib.temp_dir("floe-quorum-")
    ports = {i: lib.free_port() for i in (1, 2, 3)}
    nodes = {i: Controller(i, ports, root) for i in ports}
    writer = Writer(nodes)
    started = time.monotonic()

    def form_quorum():
        for node in nodes.values():
            node.start()
        for node in nodes.values():
            node.wait_serving()
        lib.wait_until(lambda: leader_of(nodes) is not None, 30, "a leader all three agree on")
        q = describe_quorum(ports[leader_of(nodes)])
        lib.expect(sorted(q["voters"]) == [1, 2, 3], "voters %s" % sorted(q["voters"]))

    def status_cli_matches():
        leader = leader_of(nodes)
        out = subprocess.run([lib.FLOE_BIN, "cluster", "status", "--bootstrap-controller", "127.0.0.1:%d" % ports[1]],
                             capture_output=True, text=True, timeout=20)
        lib.expect(out.returncode == 0, "floe cluster status exit %d: %s" % (out.returncode, out.stderr))
        lib.expect("LeaderId:" in out.stdout and str(leader) in out.stdout, "status output:\n" + out.stdout)
        gone = subprocess.run([lib.FLOE_BIN, "cluster", "status", "--bootstrap-controller",
                               "127.0.0.1:%d" % lib.free_port()], capture_output=True, text=True, timeout=20)
        lib.expect(gone.returncode == 1, "unreachable controller: exit %d" % gone.returncode)

    def kill_rounds():
        writer.start()
        for rnd in range(ROUNDS):
            lib.wait_until(lambda: len(writer.snapshot()) >= 5 * (rnd + 1), 30, "the writer to get acks")
            old = leader_of(nodes)
            lib.expect(old is not None, "no agreed leader before round %d" % rnd)
            acked_before = writer.snapshot()
            t_kill = time.monotonic()
            nodes[old].kill9()
            lib.wait_until(lambda: leader_of(nodes, exclude=(old,)) is not None, 30,
                           "a new leader after killing %d" % old)
            new = leader_of(nodes, exclude=(old,))
            took = time.monotonic() - t_kill
            # Everything acknowledged (before the kill, and since) is committed on the new leader.
            acked = writer.snapshot() | acked_before
            missing = set()

            def all_present():
                missing.clear()
                missing.update(acked - metadata_topics(ports[new]))
                return not missing
            try:
                lib.wait_until(all_present, 20, "acknowledged topics on the new leader")
            except AssertionError:
                raise AssertionError("round %d: %d acknowledged topics missing on leader %d: %s" %
                                     (rnd, len(missing), new, sorted(missing)[:10]))
            # The old leader restarts on its data dir and catches up.
            nodes[old].start()
            nodes[old].wait_serving()
            target = describe_quorum(ports[new])["hw"]

            def caught_up():
                lead = leader_of(nodes)
                if lead is None:
                    return False
                q = describe_quorum(ports[lead])
                leo = q["voters"].get(old, (-1,))[0]
                return leo >= target
            lib.wait_until(caught_up, 30, "restarted node %d to reach high watermark %d" % (old, target))
            print("   round %d: killed leader %d, new leader %d after %.1f s, %d topics acknowledged, "
                  "node %d caught up to %d" % (rnd, old, new, took, len(acked), old, target), flush=True)
        writer.stop_flag.set()
        writer.join(10)
        lib.expect(not writer.is_alive(), "writer did not stop")
        # Bounded, not fast: a loaded machine must not fail it (the waits above bound each step).
        lib.expect(time.monotonic() - started < 300, "run took %.1f s" % (time.monotonic() - started))

    try:
        ok = results.check("three_controllers_elect_one_leader", form_quorum)
        if ok:
            results.check("cluster_status_reports_the_leader_and_fails_when_unreachable", status_cli_matches)
            results.check("acked_topics_survive_leader_kill9_and_old_leader_catches_up", kill_rounds)
    finally:
        writer.stop_flag.set()
        teardown(results, nodes, root)
    results.finish()


if __name__ == "__main__":
    main()
