#!/usr/bin/python3
"""kafkajs 2 (a pure-JavaScript client, tests/clients/kafkajs-interop.js) against floe: admin
create/list/metadata, acks=-1 produce in none/gzip/snappy batches, topic offsets; a kcat consume
cross-checks what kafkajs wrote; the group consumer (guarded: skipped while the broker closes the
connection on JoinGroup) reads every record once, commits, and the admin sees the offsets and group.
Skips everything (with the reason) if node or the kafkajs package is not available."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as L  # noqa: E402

L.reexec_under_debian_python()

CLIENTS = os.path.join(L.REPO, "tests", "clients")
SCRIPT = os.path.join(CLIENTS, "kafkajs-interop.js")
TOPIC, PARTITIONS, COUNT = "kjs-topic", 4, 3000


def ensure_kafkajs():
    if shutil.which("node") is None:
        raise L.Skip("node is not installed")
    if not os.path.isdir(os.path.join(CLIENTS, "node_modules", "kafkajs")):
        if shutil.which("npm") is None:
            raise L.Skip("kafkajs not installed and npm missing")
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENTS, capture_output=True, text=True,
                           timeout=180)
        if p.returncode != 0:
            raise L.Skip("npm ci failed in tests/clients: %s" % p.stderr[-500:])


def node(*args, timeout_s=90):
    p = subprocess.run(["node", SCRIPT, broker.bootstrap] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout_s, cwd=CLIENTS)
    for line in p.stdout.splitlines():
        print("   " + line)
    if p.returncode != 0:
        raise AssertionError("kafkajs %s exited %d: %s %s" % (args[0], p.returncode, p.stdout[-1500:], p.stderr[-1500:]))


def kafkajs_admin_and_produce():
    ensure_kafkajs()
    node("produce", TOPIC, PARTITIONS, COUNT)


def kcat_reads_what_kafkajs_wrote():
    ensure_kafkajs()
    p = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", TOPIC, "-o", "beginning", "-e", "-J", "-q"],
                       capture_output=True, text=True, timeout=60)
    L.expect(p.returncode == 0, "kcat: %s" % p.stderr[-500:])
    recs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    L.expect(len(recs) == COUNT, "kcat read %d of %d" % (len(recs), COUNT))
    for r in recs:
        i = int(r["key"][1:])
        L.expect(r["payload"] == "v%d" % i and r["headers"] == ["n", str(i)] and r["partition"] == i % PARTITIONS
                 and r["offset"] == i // PARTITIONS, "record as kcat sees it: %s" % r)


def kafkajs_group():
    ensure_kafkajs()
    L.require_groups(broker.bootstrap)
    node("group", TOPIC, PARTITIONS, COUNT, "kjs-group-1")


results = L.Results("test_kafka_kafkajs")
broker = L.Broker()
try:
    broker.start()
    results.check("kafkajs admin + acks=-1 produce of %d records (none/gzip/snappy)" % COUNT, kafkajs_admin_and_produce)
    results.check("kcat reads kafkajs's records intact", kcat_reads_what_kafkajs_wrote)
    results.check("kafkajs group consumer reads each record once, commits; admin sees offsets/group", kafkajs_group)
    results.check("broker still alive", lambda: L.expect(broker.alive(), "floe exited"))
    results.check("SIGTERM stops floe with exit 0", lambda: L.expect(broker.stop() == 0, "non-zero exit"))
finally:
    try:
        results.finish(broker)
    finally:
        broker.cleanup()
