#!/usr/bin/python3
"""The client-side admin verbs of the floe binary against a real floe, checked with real clients:
`floe topic` creates/lists/describes/deletes what kcat then sees; `floe produce` writes lines kcat
reads back; kcat (plain, zstd, lz4) writes what `floe consume` prints; `floe group describe` shows a
confluent-kafka group's committed offsets and lag, also when the bootstrap broker goes away after
its first answers; bad arguments exit 2 naming the option; an unreachable server exits 1 within the
timeout."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

from confluent_kafka import Consumer  # noqa: E402


def floe(args, stdin=None, timeout_s=60):
    return subprocess.run([L.FLOE_BIN] + args, input=stdin, capture_output=True, timeout=timeout_s)


def floe_ok(args, stdin=None):
    p = floe(args, stdin)
    L.expect(p.returncode == 0, "floe %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode(), p.stderr.decode()


def kcat(args, stdin=None, timeout_s=60):
    p = subprocess.run(["kcat", "-b", broker.bootstrap] + args, input=stdin, capture_output=True, timeout=timeout_s)
    L.expect(p.returncode == 0, "kcat %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def kcat_partitions(topic):
    meta = json.loads(kcat(["-L", "-J", "-t", topic]))
    for t in meta["topics"]:
        if t["topic"] == topic and "error" not in t:
            return len(t["partitions"])
    return None


def topic_create_list_describe_delete():
    B = ["--bootstrap-server", broker.bootstrap]
    out, _ = floe_ok(["topic", "create"] + B + ["--topic", "admin-t", "--partitions", "3", "--config", "retention.ms=123456"])
    L.expect("Created topic admin-t" in out, out)
    L.expect(kcat_partitions("admin-t") == 3, "kcat -L does not see 3 partitions of admin-t")
    out, _ = floe_ok(["topic", "list"] + B)
    L.expect("admin-t" in out.split("\n"), "topic list: %s" % out)
    out, _ = floe_ok(["topic", "describe"] + B + ["--topic", "admin-t"])
    L.expect("PartitionCount: 3" in out and "retention.ms=123456" in out, "describe: %s" % out)
    for p in range(3):
        L.expect("Partition: %d\tLeader: 1" % p in out, "describe lacks partition %d: %s" % (p, out))
    # Creating it again is Kafka's TOPIC_ALREADY_EXISTS, exit 1.
    p = floe(["topic", "create"] + B + ["--topic", "admin-t"])
    L.expect(p.returncode == 1 and b"TOPIC_ALREADY_EXISTS" in p.stderr, "second create: %d %s" % (p.returncode, p.stderr))
    floe_ok(["topic", "create"] + B + ["--topic", "admin-gone", "--partitions", "1"])
    out, _ = floe_ok(["topic", "delete"] + B + ["--topic", "admin-gone"])
    L.expect("Deleted topic admin-gone" in out, out)
    # kcat -L without -t: asking for one topic may auto-create it again.
    listed = lambda: [t["topic"] for t in json.loads(kcat(["-L", "-J"]))["topics"]]
    L.wait_until(lambda: "admin-gone" not in listed(), 30, "admin-gone to disappear from kcat -L")
    L.expect("admin-t" in listed(), "kcat -L lost admin-t")
    p = floe(["topic", "describe"] + B + ["--topic", "no-such-topic"])
    L.expect(p.returncode == 1 and b"UNKNOWN_TOPIC_OR_PARTITION" in p.stderr, "describe missing: %d %s" % (p.returncode, p.stderr))


def produce_then_kcat_reads():
    B = ["--bootstrap-server", broker.bootstrap]
    floe_ok(["topic", "create"] + B + ["--topic", "admin-p", "--partitions", "2"])
    lines = ["line-%d %s" % (i, "x" * (i % 50)) for i in range(3000)]
    _, err = floe_ok(["produce"] + B + ["--topic", "admin-p"], stdin=("\n".join(lines) + "\n").encode())
    L.expect("3000 acknowledged" in err and " 0 failed" in err, "produce summary: %s" % err)
    got = kcat(["-C", "-t", "admin-p", "-o", "beginning", "-e", "-q"]).splitlines()
    L.expect(sorted(got) == sorted(lines), "kcat read %d lines, floe produced %d" % (len(got), len(lines)))
    # Keys: the separator splits key and value; one partition keeps the order.
    floe_ok(["produce"] + B + ["--topic", "admin-p", "--partition", "1", "--key-separator", ":", "--acks", "1"],
            stdin=b"k1:v1\nk2:v2\n")
    got = kcat(["-C", "-t", "admin-p", "-p", "1", "-o", "-2", "-e", "-q", "-f", "%k=%s\\n"]).splitlines()
    L.expect(got == ["k1=v1", "k2=v2"], "keyed records: %s" % got)


def produce_sends_while_input_keeps_coming():
    # A line every 5 ms never leaves stdin idle for the 50 ms linger: records must still go out
    # within about the linger of being read (tail -f | floe produce), not only at end of input.
    B = ["--bootstrap-server", broker.bootstrap]
    floe_ok(["topic", "create"] + B + ["--topic", "admin-stream", "--partitions", "1"])
    proc = subprocess.Popen([L.FLOE_BIN, "produce"] + B + ["--topic", "admin-stream"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stop = threading.Event()

    def write_lines():  # never pauses 50 ms, whatever the checker below does
        i = 0
        while not stop.is_set():
            proc.stdin.write(b"live-%d\n" % i)
            proc.stdin.flush()
            i += 1
            time.sleep(0.005)

    writer = threading.Thread(target=write_lines)
    writer.start()
    seen_while_open = 0
    try:
        # 12 s of ~10-byte lines (at most 200 a second) is under 30 KiB: far from a full 64 KiB
        # batch, so only the linger can have sent what kcat sees.
        deadline = time.time() + 12
        while time.time() < deadline and seen_while_open == 0:
            time.sleep(0.5)
            # Not -e: with records arriving every linger, the partition's end keeps moving.
            try:
                out = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", "admin-stream", "-o", "beginning",
                                      "-c", "1", "-q"], capture_output=True, timeout=5).stdout.decode().splitlines()
                seen_while_open = len(out)
            except subprocess.TimeoutExpired:
                pass  # nothing there yet
    finally:
        stop.set()
        writer.join()
        _, err = proc.communicate(timeout=60)
    L.expect(seen_while_open > 0, "nothing was sent while stdin kept delivering a line every 5 ms")
    L.expect(proc.returncode == 0 and b" 0 failed" in err, "produce: %d %s" % (proc.returncode, err))


def kcat_writes_floe_consumes():
    B = ["--bootstrap-server", broker.bootstrap]
    for codec in ["none", "zstd", "lz4", "gzip", "snappy"]:
        topic = "admin-c-%s" % codec
        floe_ok(["topic", "create"] + B + ["--topic", topic, "--partitions", "1"])
        lines = ["%s-%d %s" % (codec, i, "abcd" * (i % 30)) for i in range(500)]
        kcat(["-P", "-t", topic, "-z", codec, "-K", "\t"], stdin=("\n".join("k%d\t%s" % (i, l) for i, l in enumerate(lines)) + "\n").encode())
        out, err = floe_ok(["consume"] + B + ["--topic", topic, "--offset", "beginning", "--max-messages", "500",
                                              "--timeout-ms", "20000"])
        L.expect(out.splitlines() == lines, "%s: floe consume printed %d lines (%s)" % (codec, len(out.splitlines()), err))
    out, _ = floe_ok(["consume"] + B + ["--topic", "admin-c-zstd", "--offset", "498", "--print-key", "--timeout-ms", "2000"])
    L.expect(out.splitlines() == ["k498\tzstd-498 " + "abcd" * 18, "k499\tzstd-499 " + "abcd" * 19], "print-key: %s" % out)


def consume_group_commits_and_group_describe():
    B = ["--bootstrap-server", broker.bootstrap]
    floe_ok(["topic", "create"] + B + ["--topic", "admin-g", "--partitions", "2"])
    floe_ok(["produce"] + B + ["--topic", "admin-g", "--partition", "0"], stdin=b"".join(b"a%d\n" % i for i in range(10)))
    floe_ok(["produce"] + B + ["--topic", "admin-g", "--partition", "1"], stdin=b"".join(b"b%d\n" % i for i in range(4)))
    # floe consume --group commits what it printed; a second run resumes after it.
    out, _ = floe_ok(["consume"] + B + ["--topic", "admin-g", "--partition", "0", "--offset", "beginning",
                                        "--max-messages", "6", "--group", "floe-simple"])
    L.expect(out.splitlines() == ["a%d" % i for i in range(6)], "first consume: %s" % out)
    out, _ = floe_ok(["consume"] + B + ["--topic", "admin-g", "--partition", "0", "--max-messages", "4",
                                        "--group", "floe-simple", "--timeout-ms", "10000"])
    L.expect(out.splitlines() == ["a%d" % i for i in range(6, 10)], "resumed consume: %s" % out)
    # A confluent-kafka consumer group commits 3 of partition 0 and all of partition 1.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "cf-admin", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        from confluent_kafka import TopicPartition
        c.commit(offsets=[TopicPartition("admin-g", 0, 3), TopicPartition("admin-g", 1, 4)], asynchronous=False)
        c.subscribe(["admin-g"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not c.assignment():
            c.poll(0.2)
        L.expect(c.assignment(), "the confluent consumer got no assignment")
        out, _ = floe_ok(["group", "describe"] + B + ["--group", "cf-admin"])
        rows = [l.split() for l in out.splitlines() if l.startswith("cf-admin")]
        by_part = {int(r[2]): r for r in rows}
        L.expect(by_part[0][3:6] == ["3", "10", "7"] and by_part[1][3:6] == ["4", "4", "0"], "describe rows: %s" % out)
        L.expect("rdkafka" in out, "describe names no member's client id: %s" % out)
        out, _ = floe_ok(["group", "list"] + B)
        L.expect("cf-admin" in out and "floe-simple" in out, "group list: %s" % out)
    finally:
        c.close()
    out, _ = floe_ok(["group", "describe"] + B + ["--group", "floe-simple"])
    rows = [l.split() for l in out.splitlines() if l.startswith("floe-simple")]
    L.expect(len(rows) == 1 and rows[0][2:6] == ["0", "10", "10", "0"], "floe-simple: %s" % out)


class BootstrapThatGoesAway:
    """A bootstrap address in front of the broker that passes on the first connection's first
    `answers` request/response pairs, then closes it and refuses any further connection: a bootstrap
    broker that goes away mid-way (the broker behind it is real and stays up)."""

    def __init__(self, target, answers):
        self.target = target
        self.answers = answers
        self.passed = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(60)
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _frame(s):
        def exactly(n):
            b = b""
            while len(b) < n:
                chunk = s.recv(n - len(b))
                if not chunk:
                    raise EOFError("connection closed")
                b += chunk
            return b
        size = exactly(4)
        return size + exactly(int.from_bytes(size, "big"))

    def _run(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        finally:
            self.listener.close()
        host, port = self.target.split(":")
        upstream = socket.create_connection((host, int(port)), timeout=60)
        client.settimeout(60)
        try:
            for _ in range(self.answers):
                upstream.sendall(self._frame(client))
                client.sendall(self._frame(upstream))
                self.passed += 1
        except (OSError, EOFError):
            pass
        finally:
            client.close()
            upstream.close()


def group_describe_outlives_its_bootstrap_broker():
    B = ["--bootstrap-server", broker.bootstrap]
    floe_ok(["topic", "create"] + B + ["--topic", "admin-gone", "--partitions", "1"])
    floe_ok(["produce"] + B + ["--topic", "admin-gone"], stdin=b"x0\nx1\nx2\nx3\n")
    floe_ok(["consume"] + B + ["--topic", "admin-gone", "--offset", "beginning", "--max-messages", "3",
                               "--group", "gone-group"])
    # Metadata and FindCoordinator pass; the Metadata for the log end offsets must go to the broker
    # the first Metadata named.
    gone = BootstrapThatGoesAway(broker.bootstrap, answers=2)
    out, _ = floe_ok(["group", "describe", "--bootstrap-server", gone.address, "--group", "gone-group"])
    gone.thread.join(timeout=60)
    L.expect(gone.passed == 2, "the bootstrap stand-in passed %d answers, not 2" % gone.passed)
    rows = [l.split() for l in out.splitlines() if l.startswith("gone-group")]
    L.expect(len(rows) == 1 and rows[0][1:6] == ["admin-gone", "0", "3", "4", "1"], "describe: %s" % out)


def usage_errors_exit_2():
    for args, word in [(["topic"], "missing subcommand"), (["topic", "frob"], "frob"),
                       (["topic", "create", "--bootstrap-server", "x:1"], "--topic"),
                       (["topic", "create", "--bootstrap-server", "x:1", "--topic", "t", "--partitions", "zero"], "--partitions"),
                       (["topic", "create", "--bootstrap-server", "x:1", "--topic", "t", "--config", "novalue"], "--config"),
                       (["produce", "--topic", "t"], "--bootstrap-server"),
                       (["produce", "--bootstrap-server", "x:1", "--topic", "t", "--acks", "2"], "--acks"),
                       (["consume", "--bootstrap-server", "x:1", "--topic", "t", "--offset", "soon"], "--offset"),
                       (["consume", "--bootstrap-server", "x:1", "--topic", "t", "--bogus"], "--bogus"),
                       (["consume", "--bootstrap-server", "x:1", "--topic"], "--topic"),
                       (["group", "describe", "--bootstrap-server", "x:1"], "--group")]:
        p = floe(args)
        L.expect(p.returncode == 2 and word.encode() in p.stderr, "floe %s: exit %d, stderr %s" % (args, p.returncode, p.stderr))


def unreachable_server_exits_1():
    port = L.free_port()  # nobody listens there
    for args in [["topic", "list"], ["produce", "--topic", "t"], ["consume", "--topic", "t"], ["group", "list"]]:
        t0 = time.monotonic()
        p = floe(args + ["--bootstrap-server", "127.0.0.1:%d" % port, "--timeout-ms", "3000"], stdin=b"x\n")
        L.expect(p.returncode == 1 and b"127.0.0.1" in p.stderr, "floe %s: exit %d, %s" % (args, p.returncode, p.stderr))
        L.expect(time.monotonic() - t0 < 45, "floe %s took %.1f s" % (args, time.monotonic() - t0))
    # A server that accepts connections but never answers: each verb gives up after --timeout-ms.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        address = "127.0.0.1:%d" % silent.getsockname()[1]
        for args in [["topic", "list"], ["produce", "--topic", "t"], ["consume", "--topic", "t"], ["group", "list"]]:
            t0 = time.monotonic()
            p = floe(args + ["--bootstrap-server", address, "--timeout-ms", "2000"], stdin=b"x\n")
            took = time.monotonic() - t0
            L.expect(p.returncode == 1 and b"timed out" in p.stderr.lower(), "floe %s: exit %d, %s" % (args, p.returncode, p.stderr))
            L.expect(took < 45, "floe %s against a silent server took %.1f s" % (args, took))
    finally:
        silent.close()


results = L.Results("test_admin_cli")
broker = L.Broker()
try:
    broker.start()
    results.check("topic create/list/describe/delete, seen by kcat", topic_create_list_describe_delete)
    results.check("floe produce -> kcat reads the same lines", produce_then_kcat_reads)
    results.check("floe produce sends within its linger while input keeps coming", produce_sends_while_input_keeps_coming)
    results.check("kcat (none, zstd, lz4, gzip, snappy) -> floe consume", kcat_writes_floe_consumes)
    results.check("floe consume --group commits; group describe shows offsets and lag", consume_group_commits_and_group_describe)
    results.check("group describe asks a learnt broker when the bootstrap broker goes away",
                  group_describe_outlives_its_bootstrap_broker)
    results.check("bad arguments exit 2 naming the option", usage_errors_exit_2)
    results.check("an unreachable server exits 1 within the timeout", unreachable_server_exits_1)
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
