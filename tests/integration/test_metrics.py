#!/usr/bin/python3
"""The operators' HTTP endpoint (`http.listeners`): /health says "serving" once floe serves; /metrics
is Prometheus text that Prometheus' own parser (python3-prometheus-client, from Debian) reads, and
its counters follow what real clients do (confluent-kafka produce and consume). S3 errors are
retried, counted in floe_objectstore_retries_total and logged: floe serves with its data on a
moto_server of its own (SigV4 checks on), which is killed under load. Bad values of the key stop
startup naming it."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402



def http_broker(overrides=None):
    port = L.free_port()
    o = {"http.listeners": "HTTP://127.0.0.1:%d" % port}
    o.update(overrides or {})
    b = L.Broker(o)
    b.http_port = port
    return b


def get(broker, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (broker.http_port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def scrape(broker):
    """{(name, frozenset(labels)): value} and {family name: type}, parsed by prometheus_client."""
    status, headers, body = get(broker, "/metrics")
    L.expect(status == 200, "/metrics answered %d" % status)
    L.expect(headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), "content type %r" % headers)
    samples, types = {}, {}
    for family in text_string_to_metric_families(body):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), None)


def health_and_format(broker):
    status, _, body = get(broker, "/health")
    L.expect(status == 200 and body == "serving\n", "/health: %d %r" % (status, body))
    samples, types = scrape(broker)
    # prometheus_client reports counter families without their _total suffix.
    for family, kind in [("floe_wal_appends", "counter"), ("floe_broker_produce_requests", "counter"),
                         ("floe_stream_fetches", "counter"), ("floe_wal_capacity_bytes", "gauge"),
                         ("floe_net_connections_open", "gauge"), ("floe_build_info", "gauge")]:
        L.expect(types.get(family) == kind, "family %s: type %r (families: %s)" % (family, types.get(family), sorted(types)))
    L.expect(value(samples, "floe_wal_capacity_bytes") == float(128 << 20), "WAL capacity %r" % value(samples, "floe_wal_capacity_bytes"))
    L.expect(value(samples, "floe_metadata_brokers", state="unfenced") == 1.0, "brokers %r" % value(samples, "floe_metadata_brokers", state="unfenced"))
    L.expect((value(samples, "floe_metadata_applied_offset") or -1) >= 0, "applied offset")
    # A single-voter quorum in the same process: this node leads it.
    L.expect(value(samples, "floe_raft_role", role="leader") == 1.0, "raft role: %r" % value(samples, "floe_raft_role", role="leader"))
    L.expect(value(samples, "floe_raft_leader_id") == 1.0, "raft leader id %r" % value(samples, "floe_raft_leader_id"))
    L.expect((value(samples, "floe_raft_high_watermark") or 0) >= 1, "raft high watermark")
    status, _, _ = get(broker, "/nope")
    L.expect(status == 404, "/nope answered %d" % status)
    status, headers, _ = get(broker, "/metrics", method="POST")
    L.expect(status == 405 and headers.get("Allow") == "GET, HEAD", "POST /metrics: %d %r" % (status, headers))


def counters_follow_clients(broker):
    before, _ = scrape(broker)
    n, size = 2000, 200
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for i in range(n):
        p.produce("metrics", value=b"x" * size, key=str(i).encode())
    L.expect(p.flush(60) == 0, "records left unsent")
    after, _ = scrape(broker)

    def grew(name, at_least, **labels):
        b, a = value(before, name, **labels) or 0, value(after, name, **labels)
        L.expect(a is not None and a - b >= at_least, "%s%s: %r -> %r, expected +%d" % (name, labels or "", b, a, at_least))

    grew("floe_broker_produce_requests_total", 1)
    grew("floe_wal_appends_total", 1)
    grew("floe_wal_writes_total", 1)
    grew("floe_stream_append_bytes_total", n * size)
    grew("floe_net_connections_accepted_total", 1)
    grew("floe_metadata_topics", 1)  # "metrics" was auto-created
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "metrics", "auto.offset.reset": "earliest"})
    c.assign([TopicPartition("metrics", 0, 0)])
    got, deadline = 0, time.monotonic() + 60
    while got < n and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and not m.error():
            got += 1
    c.close()
    L.expect(got == n, "consumed %d of %d" % (got, n))
    final, _ = scrape(broker)
    L.expect((value(final, "floe_broker_fetch_requests_total") or 0) > (value(after, "floe_broker_fetch_requests_total") or 0),
             "fetch requests did not grow")
    L.expect((value(final, "floe_stream_fetches_total", source="log_cache") or 0) >= 1, "no log-cache fetch counted")


def scrapes_during_shutdown_are_answered_or_refused():
    """Scrapes while SIGTERM shuts floe down: each gets an answer (200, or 503 from /health), a
    refused connection, or an answer cut short by the endpoint's stop; never a crash; floe exits 0.
    At least one scrape must start after the SIGTERM."""
    b = http_broker()
    b.start()
    seen, stop, sigterm_at = [], threading.Event(), []

    def scrape_loop():
        while not stop.is_set():
            for path in ("/metrics", "/health"):
                t = time.monotonic()
                try:
                    outcome = get(b, path)[0]
                except OSError:
                    outcome = "refused"
                except Exception as e:  # noqa: BLE001 (an answer cut short: IncompleteRead, BadStatusLine...)
                    outcome = "cut:" + type(e).__name__
                seen.append((t, path, outcome))
    t = threading.Thread(target=scrape_loop, daemon=True)
    t.start()
    L.wait_until(lambda: len(seen) >= 10, 30, "scrapes before the shutdown")
    try:
        sigterm_at.append(time.monotonic())
        L.expect(b.stop() == 0, "floe did not exit 0 while being scraped")
        L.wait_until(lambda: any(s[0] >= sigterm_at[0] for s in seen), 30, "a scrape after the SIGTERM")
    finally:
        stop.set()
        t.join(30)
        b.cleanup()
    allowed = (200, 503, "refused", "cut:IncompleteRead", "cut:RemoteDisconnected", "cut:BadStatusLine")
    bad = [s for s in seen if s[2] not in allowed]
    L.expect(not bad, "unexpected outcomes during shutdown: %r" % bad[:5])


def bad_values_stop_startup_naming_the_key():
    p = subprocess.run([L.FLOE_BIN, "serve", "--check", "--override",
                        "http.listeners=HTTP://127.0.0.1:1,METRICS://127.0.0.1:2"], capture_output=True, text=True, timeout=30)
    L.expect(p.returncode == 2 and "'http.listeners'" in p.stderr, "two listeners: exit %d %r" % (p.returncode, p.stderr))
    p = subprocess.run([L.FLOE_BIN, "serve", "--check", "--override", "http.listeners=127.0.0.1:9644"],
                       capture_output=True, text=True, timeout=30)
    L.expect(p.returncode == 2 and "http.listeners" in p.stderr, "no NAME://: exit %d %r" % (p.returncode, p.stderr))
    # A port that is taken: serve exits 1 naming the key (and the address).
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        b = L.Broker({"http.listeners": "HTTP://127.0.0.1:%d" % taken.getsockname()[1]})
        try:
            b.start()
            raise AssertionError("floe started although its http.listeners port was taken")
        except RuntimeError:
            want = "http.listeners: cannot listen on 127.0.0.1:%d" % taken.getsockname()[1]
            L.expect(want in b.log_text(), "no %r in the log:\n%s" % (want, b.log_text()[-3000:]))
        finally:
            b.cleanup()
    finally:
        taken.close()


def controller_node_serves_health_and_raft_metrics():
    """A process.roles=controller node (a single-voter quorum here) has the endpoint too."""
    d = L.temp_dir("floe-metrics-ctl-")
    port, http_port = L.free_port(), L.free_port()
    log = open(os.path.join(d, "floe.log"), "wb")
    p = subprocess.Popen([L.FLOE_BIN, "serve", "--override", "process.roles=controller", "--override", "node.id=1",
                          "--override", "listeners=CONTROLLER://127.0.0.1:%d" % port,
                          "--override", "controller.quorum.voters=1@127.0.0.1:%d" % port,
                          "--override", "data.dir=%s" % os.path.join(d, "data"),
                          "--override", "http.listeners=HTTP://127.0.0.1:%d" % http_port],
                         stdout=log, stderr=log, preexec_fn=L._die_with_parent)
    node = type("Node", (), {"http_port": http_port})()
    try:
        def healthy():
            try:
                return get(node, "/health")[0] == 200
            except OSError:
                return False
        L.wait_until(healthy, 60, "the controller's /health to answer 200")
        samples, types = scrape(node)
        L.expect(types.get("floe_raft_requests_sent") == "counter", "no raft transport counters: %s" % sorted(types))
        L.wait_until(lambda: value(scrape(node)[0], "floe_raft_role", role="leader") == 1.0, 60, "the controller to lead")
        L.expect((value(samples, "floe_metadata_applied_offset") or -1) >= 0, "applied offset")
        p.terminate()
        L.expect(p.wait(60) == 0, "the controller did not exit 0 on SIGTERM")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()


def s3_errors_are_retried_counted_and_logged():
    env = L.start_moto("floe-metrics")  # its own moto (not .ci/run's shared one): this test kills it
    if env is None:
        raise L.Skip("moto_server not installed")
    moto_pid = int(env["FLOE_TEST_MOTO_PID"])
    b = http_broker({"s3.data.buckets": L.s3_uri(env), "s3.wal.upload.threshold": str(1 << 20)})
    try:
        b.start()
        samples, _ = scrape(b)
        L.expect(value(samples, "floe_objectstore_retries_total", store="data") == 0.0,
                 "retries before any fault: %r" % value(samples, "floe_objectstore_retries_total", store="data"))
        os.kill(moto_pid, 9)
        # Over the upload threshold: the upload's PUT meets a dead endpoint (connection refused:
        # retryable) and is retried with backoff; the records stay acknowledged in the WAL.
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
        for i in range(3000):
            p.produce("s3down", value=b"y" * 1000)
        L.expect(p.flush(60) == 0, "records left unsent while S3 is down")

        def retried():
            s, _ = scrape(b)
            return (value(s, "floe_objectstore_retries_total", store="data") or 0) >= 1
        L.wait_until(retried, 60, "floe_objectstore_retries_total{store=\"data\"} >= 1")
        s, _ = scrape(b)
        L.expect((value(s, "floe_objectstore_operations_total", store="data") or 0) >= 1, "no data-store operation counted")
        L.expect(value(s, "floe_objectstore_retries_total", store="cold") is not None, "no cold store counters")
        retry_line = re.compile(r"WARN objectstore: s3://floe-metrics .*; retry \d+ in \d+ ms")
        L.wait_until(lambda: retry_line.search(b.log_text()) is not None, 30, "a retry line in the log")
        b.kill()  # a clean stop would wait for the dead endpoint
    finally:
        b.cleanup()
        for undo in (lambda: os.kill(moto_pid, 9), lambda: os.remove(env["FLOE_TEST_MOTO_LOG"])):
            try:
                undo()
            except OSError:
                pass


results = L.Results("test_metrics")
broker = http_broker()
try:
    broker.start()
    results.check("/health serves and /metrics parses with Prometheus' parser", health_and_format, broker)
    results.check("counters follow a real producer and consumer", counters_follow_clients, broker)
    results.check("bad http.listeners values stop startup naming the key", bad_values_stop_startup_naming_the_key)
    results.check("a controller node serves /health and Raft metrics", controller_node_serves_health_and_raft_metrics)
    results.check("scrapes during a SIGTERM shutdown are answered or refused", scrapes_during_shutdown_are_answered_or_refused)
    results.check("S3 errors are retried, counted and logged", s3_errors_are_retried_counted_and_logged)
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
