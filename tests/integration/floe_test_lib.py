"""Shared helpers of floe's real-client integration tests (tests/integration/test_kafka_*).

Broker: starts `floe serve` (FLOE_BIN, else <repo>/build/floe) on free 127.0.0.1 ports with its
data in a directory of its own, waits for the "serving Kafka on" line on stdout, stops it with
SIGTERM (clean) or SIGKILL (crash), and restarts it on the same data directory and ports.
Its stdout+stderr go to <dir>/floe.log so a failing test can print the tail.

Checks: a test calls `check(name, fn)` per case; a case raising `Skip` is counted as skipped (with the
reason printed), never as passed; `finish()` prints the summary and exits 1 if anything failed.
Every wait here is bounded, and no floe outlives its test: each is SIGKILLed at exit and, through
PR_SET_PDEATHSIG, when the test process itself is killed (e.g. by a ctest timeout).
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import shutil
import atexit
import ctypes
import errno
import urllib.parse

REPO = os.environ.get("FLOE_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLOE_BIN = os.environ.get("FLOE_BIN") or os.path.join(REPO, "build", "floe")
# Debian's python modules (confluent_kafka, kafka) load only in Debian's interpreter.
DEBIAN_PYTHON = "/usr/bin/python3"


def reexec_under_debian_python():
    """Scripts start with `#!/usr/bin/python3`; this also covers `python3 script.py` from a pyenv."""
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_known_keys = None
_running = set()   # Broker objects with a live process, killed at exit whatever happens


_temp_dirs = []     # directories from temp_dir(), removed at exit


@atexit.register
def _kill_leftovers():
    for b in list(_running):
        b.kill()
    # Registered first, so it runs after every later atexit handler (and after the kills above).
    if not os.environ.get("FLOE_KEEP_TEST_DIRS"):
        for d in _temp_dirs:
            shutil.rmtree(d, ignore_errors=True)


def temp_dir(prefix):
    """A fresh directory under $TMPDIR, removed when the test process exits, whether or not the test
    cleaned up (a broker's directory holds a preallocated WAL: leaking them filled CI's disk).
    FLOE_KEEP_TEST_DIRS=1 keeps them for a post-mortem."""
    d = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(d)
    return d


def _die_with_parent():
    """In the child before exec: SIGKILL floe if the test process dies (ctest timeout, kill -9)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def known_config_keys():
    """The configuration keys this floe binary accepts (an override of an unknown key is exit 2)."""
    global _known_keys
    if _known_keys is None:
        out = subprocess.run([FLOE_BIN, "config", "keys"], capture_output=True, text=True, timeout=30).stdout
        _known_keys = {line.split()[0] for line in out.splitlines() if line and not line[0].isspace()}
    return _known_keys


class Broker:
    """One single-node floe on free ports. Use as a context manager, or call start()/stop()."""

    def __init__(self, overrides=None, data_dir=None, startup_timeout_s=30):
        self.owns_dir = data_dir is None
        self.dir = data_dir or temp_dir("floe-it-")
        self.port = free_port()
        self.controller_port = free_port()
        self.startup_timeout_s = startup_timeout_s
        # Small WAL: a 1 GiB ring costs start-up time on every (re)start.
        self.overrides = {"s3.wal.capacity": str(128 << 20), "s3.wal.upload.threshold": str(32 << 20),
                          "s3.wal.cache.size": str(64 << 20), "group.initial.rebalance.delay.ms": "0"}
        self.overrides.update(overrides or {})
        self.proc = None
        self.log_path = os.path.join(self.dir, "floe.log")
        self.starts = 0

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def command(self):
        cmd = [FLOE_BIN, "serve",
               "--override", "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (self.port, self.controller_port),
               "--override", "controller.quorum.voters=1@127.0.0.1:%d" % self.controller_port,
               "--override", "data.dir=%s" % os.path.join(self.dir, "data")]
        keys = known_config_keys()
        for k, v in self.overrides.items():
            if k in keys:
                cmd += ["--override", "%s=%s" % (k, v)]
        return cmd

    def start(self):
        """Starts floe and waits for it to serve. If its ports were taken meanwhile (another test
        picked the same free port), retries: on new ports for a first start, on the same ones
        (after a pause) for a restart, since clients know the old address. If the binary is being
        rebuilt right now (exec fails with ETXTBSY / EACCES / ENOENT), waits for it, up to ~20 s."""
        port_tries, exec_tries = 0, 0
        while True:
            try:
                return self._start_once()
            except OSError as e:
                exec_tries += 1
                if e.errno not in (errno.ETXTBSY, errno.EACCES, errno.ENOENT) or exec_tries >= 10:
                    raise
                print("   (floe binary not executable right now: %s; retrying)" % e, flush=True)
                time.sleep(2)
            except RuntimeError as e:
                port_tries += 1
                if ("cannot listen" not in str(e) and "Address already in use" not in str(e)) or port_tries >= 3:
                    raise
                if self.starts == 1:
                    self.port, self.controller_port = free_port(), free_port()
                else:
                    time.sleep(1)

    def _start_once(self):
        assert self.proc is None, "already running"
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(("\n==== start #%d: %s\n" % (self.starts, " ".join(self.command()))).encode())
        log.flush()
        # PR_SET_PDEATHSIG fires when the *thread* that started the child ends, so only a start from
        # the main thread uses it (a start from a helper thread relies on the atexit kill).
        main = threading.current_thread() is threading.main_thread()
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log, cwd=self.dir,
                                     preexec_fn=_die_with_parent if main else None)
        _running.add(self)
        log.close()
        ready = threading.Event()
        lines = []

        def pump(proc, out):
            # Copies the broker's stdout to the log for as long as it runs (it must never block on a full pipe).
            with open(self.log_path, "ab") as f:
                for line in out:
                    f.write(line)
                    f.flush()
                    lines.append(line)
                    if b"serving Kafka on" in line:
                        ready.set()
            ready.set()

        threading.Thread(target=pump, args=(self.proc, self.proc.stdout), daemon=True).start()
        if not ready.wait(self.startup_timeout_s):
            tail = self.log_tail()
            self.kill()
            raise RuntimeError("floe did not start within %d s; log tail:\n%s" % (self.startup_timeout_s, tail))
        if not any(b"serving Kafka on" in l for l in lines) or self.proc.poll() is not None:
            time.sleep(0.2)  # let stderr reach the log
            tail = self.log_tail()
            self.kill()
            raise RuntimeError("floe exited during start-up; log tail:\n%s" % tail)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s=40):
        """SIGTERM and wait; returns the exit code (SIGKILL after the timeout, then raises)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            _running.discard(self)
            raise RuntimeError("floe did not stop within %d s of SIGTERM" % timeout_s)
        self.proc = None
        _running.discard(self)
        return rc

    def kill(self):
        """SIGKILL: a crash at an arbitrary moment."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None
        _running.discard(self)

    def restart(self, hard=False):
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cleanup(self):
        self.kill()
        if self.owns_dir and not os.environ.get("FLOE_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


# ---- S3 (moto_server) -----------------------------------------------------------------------------

def start_moto(bucket):
    """Starts a moto_server of this test's own (scripts/start-moto.sh: SigV4 checks on, an IAM key,
    `bucket` created) and returns its FLOE_TEST_S3_* / FLOE_TEST_MOTO_PID values as a dict, or None
    when moto is not installed. The caller kills FLOE_TEST_MOTO_PID when done."""
    r = subprocess.run([os.path.join(REPO, "scripts", "start-moto.sh"), "--bucket", bucket],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == 3:
        return None
    if r.returncode != 0:
        raise RuntimeError("cannot start moto_server:\n" + r.stderr)
    env = {}
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            env[k] = v
    return env


def s3_uri(env, bucket_id=0):
    """A bucket URI for s3.data.buckets / s3.wal.path from FLOE_TEST_S3_* values (a dict such as
    os.environ or start_moto()'s), credentials percent-encoded (secret keys may hold '/' or '+')."""
    q = lambda v: urllib.parse.quote(v, safe="")  # noqa: E731
    return "%d@s3://%s?region=%s&endpoint=%s&pathStyle=true&accessKey=%s&secretKey=%s" % (
        bucket_id, env["FLOE_TEST_S3_BUCKET"], env["FLOE_TEST_S3_REGION"], q(env["FLOE_TEST_S3_ENDPOINT"]),
        q(env["FLOE_TEST_S3_ACCESS_KEY"]), q(env["FLOE_TEST_S3_SECRET_KEY"]))


# ---- checks -------------------------------------------------------------------------------------

class Skip(Exception):
    """Raised by a check that cannot run (or is expected to fail on a known broker bug)."""


# Broker bugs these tests found (described in .notes/broker-bugs.md). A check wrapped in known_bug(n)
# that fails is reported as SKIPPED (expected to fail), not as passed; once the broker is fixed the
# check passes by itself and prints a reminder: then delete the entry here.
KNOWN_BUGS = {
    # Fixed, their checks run plainly now: 1 (delete topic with un-uploaded data stalled uploads) and
    # 2 (ListOffsets by timestamp at batch granularity) in 92c90c3; 3 (acks=0 records to a
    # just-auto-created topic lost) and 4 (fetch session ids reused after a restart) in bf36eaa.
}


def known_bug(number, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except AssertionError as e:
        if number in KNOWN_BUGS:
            raise Skip("expected to fail: known broker bug %d (.notes/broker-bugs.md: %s): %s" % (
                number, KNOWN_BUGS[number], e))
        raise
    if number in KNOWN_BUGS:
        print("   note: known broker bug %d no longer reproduces: remove it from KNOWN_BUGS in floe_test_lib.py" % number)


class Results:
    def __init__(self, suite):
        self.suite = suite
        self.passed, self.failed, self.skipped = [], [], []
        self.started = time.monotonic()

    def check(self, name, fn, *args, **kwargs):
        t0 = time.monotonic()
        print("-- %s ..." % name, flush=True)
        try:
            fn(*args, **kwargs)
        except Skip as s:
            self.skipped.append((name, str(s)))
            print("SKIP %s: %s" % (name, s), flush=True)
            return False
        except Exception as e:  # noqa: BLE001 (a check fails on anything)
            self.failed.append((name, "%s: %s" % (type(e).__name__, e)))
            print("FAIL %s (%.1fs): %s" % (name, time.monotonic() - t0, e), flush=True)
            traceback.print_exc()
            return False
        self.passed.append(name)
        print("ok   %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
        return True

    def finish(self, broker=None):
        took = time.monotonic() - self.started
        print("\n%s: %d passed, %d skipped, %d failed (%.1f s)" % (
            self.suite, len(self.passed), len(self.skipped), len(self.failed), took))
        for name, why in self.skipped:
            print("  skipped %s: %s" % (name, why))
        for name, why in self.failed:
            print("  FAILED  %s: %s" % (name, why))
        if self.failed and broker is not None:
            print("---- floe log tail ----\n" + broker.log_tail(60))
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def wait_until(pred, timeout_s, what, interval_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval_s)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout_s, what))


# ---- raw Kafka frames (for guards and the bad-input test) -----------------------------------------

def kafka_request(api_key, api_version, correlation_id, body=b"", client_id=b"floe-it", flexible=False):
    """One request frame: size, header v1 (v2 with an empty tagged-field section if flexible), body."""
    header = struct.pack(">hhi", api_key, api_version, correlation_id)
    header += struct.pack(">h", len(client_id)) + client_id
    if flexible:
        header += b"\x00"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_uvarint(data, pos):
    """An unsigned varint (Kafka's flexible-version lengths and tag counts) at data[pos]: (value, next pos)."""
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_frame(sock):
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, size)


_group_probe = {}


def _kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def join_group_works(bootstrap, timeout_s=15):
    """(True, why) if the broker answers a JoinGroup v0 instead of closing the connection.

    The group coordinator is being wired in; group tests run only when the broker speaks JoinGroup.
    The probe joins a group of its own and leaves it again (LeaveGroup v0). Cached per broker."""
    if bootstrap in _group_probe:
        return _group_probe[bootstrap]
    host, port = bootstrap.split(":")
    body = _kstr("floe-it-probe-%d-%d" % (os.getpid(), time.monotonic_ns()))
    group = body
    body += struct.pack(">i", 10000)          # session timeout
    body += _kstr("")                          # member id
    body += _kstr("consumer")
    body += struct.pack(">i", 1)               # one protocol
    body += _kstr("range") + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
            s.sendall(kafka_request(11, 0, 7, body))
            resp = recv_frame(s)
            (corr, err) = struct.unpack(">ih", resp[:6])
            if corr != 7:
                result = (False, "JoinGroup v0 probe: correlation id %d" % corr)
            elif err == 35:
                result = (False, "JoinGroup v0 probe: UNSUPPORTED_VERSION")
            else:
                result = (True, "JoinGroup v0 answered error code %d" % err)
                if err == 0:
                    pos = 6 + 4                                   # generation
                    for _ in range(2):                            # protocol name, leader
                        (n,) = struct.unpack(">h", resp[pos:pos + 2])
                        pos += 2 + max(n, 0)
                    (n,) = struct.unpack(">h", resp[pos:pos + 2])
                    member = resp[pos + 2:pos + 2 + n]
                    s.sendall(kafka_request(13, 0, 8, group + struct.pack(">h", len(member)) + member))
                    recv_frame(s)
    except (OSError, ConnectionError, struct.error) as e:
        result = (False, "JoinGroup v0 probe: %s" % e)
    _group_probe[bootstrap] = result
    return result


def require_groups(bootstrap):
    ok, why = join_group_works(bootstrap)
    if not ok:
        raise Skip("consumer groups not served by this broker yet (%s)" % why)


# ---- crash rounds: produce until the broker dies, read back, check (durability, object WAL) ------

class ProducedRound:
    """What one produce_until_killed round sent: sent[p] = records handed to the client for
    partition p (seqs 0..sent[p]-1), acked[p] = {seq: offset acknowledged}, failed = records whose
    delivery failed, kill_after_s = when `stop` ran (after the warm-up)."""

    def __init__(self, partitions, kill_after_s):
        self.sent = [0] * partitions
        self.acked = [dict() for _ in range(partitions)]
        self.failed = 0
        self.kill_after_s = kill_after_s


def produce_until_killed(broker, topic, partitions, round_no, stop, kill_after_s, linger_ms,
                         warmup_flush_s=15, poll_every=100, extra_config=None):
    """An idempotent confluent-kafka producer (acks=all, 1.5 s message timeout) sends
    'round:partition:seq' records round-robin to `partitions` partitions of `topic` until `broker`
    is down (at most 10 s): `stop` (broker.kill, or a SIGTERM) runs kill_after_s after a warm-up of
    one acknowledged record per partition (librdkafka asks for a new topic's metadata only after
    ~1 s, and the idempotent producer needs its producer id first). Polls every `poll_every`
    records, pausing 2 ms (tens of thousands of records a second, not a flood), then flushes for
    up to 15 s: every record must be acknowledged or failed by then. Returns a ProducedRound."""
    from confluent_kafka import Producer
    config = {"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
              "linger.ms": linger_ms, "message.timeout.ms": 1500, "socket.timeout.ms": 2000,
              "reconnect.backoff.max.ms": 200}
    config.update(extra_config or {})
    p = Producer(config)
    out = ProducedRound(partitions, kill_after_s)

    def on_delivery(err, msg):
        if err is None:
            out.acked[msg.partition()][int(msg.value().decode().split(":")[2])] = msg.offset()
        else:
            out.failed += 1

    for part in range(partitions):
        p.produce(topic, ("%d:%d:0" % (round_no, part)).encode(), partition=part, on_delivery=on_delivery)
        out.sent[part] = 1
    expect(p.flush(warmup_flush_s) == 0 and all(0 in a for a in out.acked),
           "round %d: warm-up records not acknowledged" % round_no)
    killer = threading.Timer(kill_after_s, stop)
    killer.start()
    i = partitions
    deadline = time.monotonic() + 10
    while broker.proc is not None and time.monotonic() < deadline:
        part = i % partitions
        try:
            p.produce(topic, ("%d:%d:%d" % (round_no, part, out.sent[part])).encode(), partition=part,
                      on_delivery=on_delivery)
            out.sent[part] += 1
            i += 1
        except BufferError:
            p.poll(0.01)
        if i % poll_every == 0:
            p.poll(0)
            time.sleep(0.002)
    killer.join()
    left = p.flush(15)
    expect(left == 0, "round %d: %d records neither acked nor failed 15 s after the kill" % (round_no, left))
    return out


def read_range(bootstrap, topic, partitions, start, timeout_s=30):
    """Records from start[p] to the current high watermark of each partition, read with an assigned
    (group-less) consumer: ({p: [(offset, value)]}, [high watermark per partition])."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "read-range-unused", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50})
    highs = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)]
    c.assign([TopicPartition(topic, p, start[p]) for p in range(partitions) if highs[p] > start[p]])
    out = {p: [] for p in range(partitions)}
    deadline = time.monotonic() + timeout_s
    while any(start[p] + len(out[p]) < highs[p] for p in range(partitions)) and time.monotonic() < deadline:
        for m in c.consume(num_messages=5000, timeout=0.2):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError("consume: %s" % m.error())
            if m.offset() < highs[m.partition()]:
                out[m.partition()].append((m.offset(), m.value().decode()))
    c.close()
    for p in range(partitions):
        expect(start[p] + len(out[p]) == highs[p], "partition %d: read %d records of [%d, %d)" % (
            p, len(out[p]), start[p], highs[p]))
    return out, highs


def verify_round(round_no, start, produced, recs):
    """The promise of a crash round, per partition: offsets dense from start[p]; only this round's
    records of that partition; no duplicates; a gap-free prefix of what was sent; every
    acknowledged record present at the offset its acknowledgement named. Returns the records present."""
    present_total = 0
    for p in range(len(start)):
        offsets = [o for o, _ in recs[p]]
        expect(offsets == list(range(start[p], start[p] + len(offsets))), "round %d partition %d: offsets not dense" % (
            round_no, p))
        seqs = []
        for o, v in recs[p]:
            r, part, seq = (int(x) for x in v.split(":"))
            expect(r == round_no and part == p, "round %d partition %d offset %d holds %s (another round's record)" % (
                round_no, p, o, v))
            seqs.append(seq)
        if len(set(seqs)) != len(seqs):
            counts = {}
            for s in seqs:
                counts[s] = counts.get(s, 0) + 1
            raise AssertionError("round %d partition %d: duplicates %s" % (
                round_no, p, sorted(s for s, k in counts.items() if k > 1)[:10]))
        expect(seqs == list(range(len(seqs))), "round %d partition %d: not a gap-free prefix of what was sent: %s..." % (
            round_no, p, seqs[:20]))
        expect(len(seqs) <= produced.sent[p], "round %d partition %d: %d records present, %d sent" % (
            round_no, p, len(seqs), produced.sent[p]))
        for seq, off in produced.acked[p].items():
            expect(seq < len(seqs), "round %d partition %d: acknowledged record %d (offset %d) lost after the kill; "
                   "only %d present" % (round_no, p, seq, off, len(seqs)))
            expect(off == start[p] + seq, "round %d partition %d: record %d acked at offset %d but stored at %d" % (
                round_no, p, seq, off, start[p] + seq))
        present_total += len(seqs)
    return present_total
