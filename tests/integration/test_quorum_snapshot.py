#!/usr/bin/python3
"""Three controller-only `floe serve` processes with a small snapshot interval
(metadata.log.max.snapshot.interval.entries=20). One follower is stopped (SIGKILL), many topics
are created, and the leader's snapshots move its log start far past the stopped follower's log
end. Promises checked:
  - the leader really dropped its log below its snapshot (its metadata dir holds a .checkpoint and
    no segment file starting at offset 0);
  - the restarted follower catches up BY SNAPSHOT (KIP-630 FetchSnapshot: its log says it
    installed the leader's snapshot) and then by Fetch: the leader's DescribeQuorum shows its log
    end offset reaching the high watermark;
  - every acknowledged topic is in the follower's committed Metadata;
  - after SIGKILL of all three and a restart, every node loads its snapshot, replays the rest of
    its log, and every acknowledged topic is still there.
Bounded: well under 60 s; every floe is SIGKILLed at exit.
"""

import glob
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as lib  # noqa: E402
import test_quorum_kill9 as quorum  # noqa: E402  (raw Kafka requests and the Controller process)

lib.reexec_under_debian_python()

SNAPSHOT_INTERVAL = 20
TOPICS = 150


def start_with_interval(node):
    """Like Controller.start, with the snapshot interval override."""
    voters = ",".join("%d@127.0.0.1:%d" % (i, p) for i, p in sorted(node.ports.items()))
    cmd = [lib.FLOE_BIN, "serve",
           "--override", "process.roles=controller",
           "--override", "node.id=%d" % node.id,
           "--override", "listeners=CONTROLLER://127.0.0.1:%d" % node.port,
           "--override", "controller.quorum.voters=" + voters,
           "--override", "metadata.log.max.snapshot.interval.entries=%d" % SNAPSHOT_INTERVAL,
           "--override", "data.dir=%s" % os.path.join(node.dir, "data")]
    out = open(node.log, "ab")
    node.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=lib._die_with_parent)
    out.close()


def metadata_dir(node):
    return os.path.join(node.dir, "data", "metadata")


def log_text(node):
    with open(node.log, "rb") as f:
        return f.read().decode(errors="replace")


def create_at_leader(nodes, name, deadline_s=30):
    """CreateTopics `name` at whichever node leads; retried on NOT_CONTROLLER / connection errors."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        leader = quorum.leader_of({i: n for i, n in nodes.items() if n.alive()})
        if leader is None:
            time.sleep(0.05)
            continue
        try:
            err, msg = quorum.create_topic(nodes[leader].port, name)
        except (OSError, struct.error, IndexError, AssertionError):
            time.sleep(0.05)
            continue
        if err in (0, quorum.TOPIC_ALREADY_EXISTS):
            return
        if err == quorum.NOT_CONTROLLER:
            time.sleep(0.05)
            continue
        raise AssertionError("CreateTopics %s: error %d %s" % (name, err, msg))
    raise AssertionError("CreateTopics %s: no leader accepted it in %d s" % (name, deadline_s))


def main():
    results = lib.Results("quorum snapshot catch-up")
    root = lib.temp_dir("floe-quorum-snap-")
    ports = {i: lib.free_port() for i in (1, 2, 3)}
    nodes = {i: quorum.Controller(i, ports, root) for i in ports}
    acked = set()
    state = {}
    started = time.monotonic()

    def form_quorum():
        for node in nodes.values():
            start_with_interval(node)
        for node in nodes.values():
            node.wait_serving()
        lib.wait_until(lambda: quorum.leader_of(nodes) is not None, 30, "a leader all three agree on")

    def laggard_catches_up_by_snapshot():
        leader = quorum.leader_of(nodes)
        follower = next(i for i in nodes if i != leader)
        state["follower"] = follower
        nodes[follower].kill9()
        for n in range(TOPICS):
            name = "snap-%d" % n
            create_at_leader(nodes, name)
            acked.add(name)
        leader = quorum.leader_of({i: n for i, n in nodes.items() if n.alive()})
        lib.expect(leader is not None and leader != follower, "no leader among the two live nodes")
        # The leader's log below its snapshot is gone from disk.
        mdir = metadata_dir(nodes[leader])
        checkpoints = glob.glob(os.path.join(mdir, "*.checkpoint"))
        segments = sorted(os.path.basename(p) for p in glob.glob(os.path.join(mdir, "*.log")))
        lib.expect(checkpoints, "leader %d has no snapshot in %s" % (leader, mdir))
        lib.expect(segments and segments[0] != "%020d.log" % 0,
                   "leader %d still has its first segment: %s" % (leader, segments))
        # The stopped follower comes back: it must install the leader's snapshot, then fetch.
        start_with_interval(nodes[follower])
        nodes[follower].wait_serving()
        target = quorum.describe_quorum(nodes[leader].port)["hw"]

        def caught_up():
            lead = quorum.leader_of(nodes)
            if lead is None:
                return False
            q = quorum.describe_quorum(nodes[lead].port)
            return q["voters"].get(follower, (-1,))[0] >= target
        lib.wait_until(caught_up, 40, "restarted follower %d to reach high watermark %d" % (follower, target))
        lib.expect("installed the leader's snapshot" in log_text(nodes[follower]),
                   "follower %d did not catch up by snapshot:\n%s" % (follower, nodes[follower].tail()))
        lib.expect(glob.glob(os.path.join(metadata_dir(nodes[follower]), "*.checkpoint")),
                   "follower %d holds no snapshot file" % follower)
        missing = set()

        def all_present():
            missing.clear()
            missing.update(acked - quorum.metadata_topics(nodes[follower].port))
            return not missing
        try:
            lib.wait_until(all_present, 30, "acknowledged topics on follower %d" % follower)
        except AssertionError:
            raise AssertionError("%d acknowledged topics missing on follower %d: %s" %
                                 (len(missing), follower, sorted(missing)[:10]))
        print("   follower %d caught up by snapshot to %d; %d topics on it" % (follower, target, len(acked)),
              flush=True)

    def everything_survives_a_full_restart():
        for node in nodes.values():
            node.kill9()
        for node in nodes.values():
            start_with_interval(node)
        for node in nodes.values():
            node.wait_serving()
        lib.wait_until(lambda: quorum.leader_of(nodes) is not None, 30, "a leader after the restart")
        for node in nodes.values():
            missing = set()

            def all_present():
                missing.clear()
                missing.update(acked - quorum.metadata_topics(node.port))
                return not missing
            try:
                lib.wait_until(all_present, 30, "acknowledged topics on node %d" % node.id)
            except AssertionError:
                raise AssertionError("%d acknowledged topics missing on node %d after restart: %s" %
                                     (len(missing), node.id, sorted(missing)[:10]))
        create_at_leader(nodes, "after-restart")
        # Bounded, not fast: a loaded machine must not fail it (the waits above bound each step).
        lib.expect(time.monotonic() - started < 300, "run took %.1f s" % (time.monotonic() - started))

    try:
        ok = results.check("three_controllers_with_small_snapshot_interval_elect_a_leader", form_quorum)
        if ok:
            ok = results.check("a_stopped_follower_catches_up_by_snapshot_with_every_acked_topic",
                               laggard_catches_up_by_snapshot)
        if ok:
            results.check("all_nodes_restart_from_their_snapshots_with_every_acked_topic",
                          everything_survives_a_full_restart)
    finally:
        quorum.teardown(results, nodes, root)
    results.finish()


if __name__ == "__main__":
    main()
