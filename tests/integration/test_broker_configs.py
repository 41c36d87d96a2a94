#!/usr/bin/python3
"""Dynamic broker configs (Kafka's KRaft dynamic broker configs) with real clients.

Promises checked, on one combined broker,controller node:
  - kafka-python describe_configs of BROKER "<id>" lists the broker's configs with Kafka's sources
    (STATIC_BROKER_CONFIG for what server.properties set, DEFAULT_CONFIG otherwise); the keys floe
    changes at runtime are not read-only, the others are;
  - kafka-python alter_configs of BROKER "" (the cluster default, kafka-configs --entity-default)
    sets log.retention.ms; a topic without its own retention.ms then shows that value as
    DYNAMIC_DEFAULT_BROKER_CONFIG (confluent-kafka describe_configs), a topic with its own keeps it;
  - confluent-kafka alter_configs of BROKER "<id>" sets message.max.bytes: the broker shows
    DYNAMIC_BROKER_CONFIG, and a produce larger than it is refused (MSG_SIZE_TOO_LARGE); replacing
    the broker's dynamic configs by none restores the limit;
  - a key floe cannot change at runtime is refused (INVALID_REQUEST, "Cannot update these configs
    dynamically"), an unknown key is INVALID_CONFIG, validate_only writes nothing (APPEND/SUBTRACT
    and IncrementalAlterConfigs are unit-tested: these client versions do not send them);
  - the dynamic configs survive a restart;
  - feature levels: ApiVersions v3 lists metadata.version as supported and finalized (the first
    start committed it); UpdateFeatures v1 to a level floe does not support is
    INVALID_UPDATE_VERSION, to the finalized level is accepted (raw requests: no client here sends
    them);
and on a cluster (a controller-only node and a broker following it as an observer):
  - the controller's listener answers ApiVersions v3 with the feature levels too;
  - an alter of the cluster default sent to the broker is forwarded to the controller quorum and
    the broker's topics show it as DYNAMIC_DEFAULT_BROKER_CONFIG; UpdateFeatures is forwarded too.
Bounded: well under 60 s.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_test_lib as lib  # noqa: E402

lib.reexec_under_debian_python()

from confluent_kafka import KafkaError, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic  # noqa: E402
from kafka.admin import ConfigResource as KpConfigResource  # noqa: E402
from kafka.admin import ConfigResourceType, KafkaAdminClient  # noqa: E402

INVALID_CONFIG = 40
INVALID_REQUEST = 42
DAY_MS = 24 * 3600 * 1000

results = lib.Results("test_broker_configs")
# s3.ops.buckets (not used yet, so nothing connects to it) carries credentials in its URI: they
# must never reach a client.
SECRET = "TOPSECRETREVIEW4"
OPS_BUCKET = "0@s3://ops?region=us-east-1&endpoint=http://127.0.0.1:9&accessKey=AKIDREVIEW4&secretKey=" + SECRET
broker = lib.Broker(overrides={"log.retention.hours": "100", "node.id": "1", "s3.ops.buckets": OPS_BUCKET})


_admins = {}


def admin(bootstrap=None):
    """One AdminClient per bootstrap, kept alive (a dropped client fails its futures)."""
    bootstrap = bootstrap or broker.bootstrap
    if bootstrap not in _admins:
        _admins[bootstrap] = AdminClient({"bootstrap.servers": bootstrap})
    return _admins[bootstrap]


def kp_admin(bootstrap=None):
    return KafkaAdminClient(bootstrap_servers=bootstrap or broker.bootstrap, request_timeout_ms=15000)


def describe(resource_type, name, bootstrap=None):
    res = ConfigResource(resource_type, name)
    return admin(bootstrap).describe_configs([res], request_timeout=15)[res].result(timeout=20)


def create_topic(name, config=None, bootstrap=None):
    fut = admin(bootstrap).create_topics([NewTopic(name, 1, config=config or {})], request_timeout=15)[name]
    fut.result(timeout=20)


def kp_alter(name, configs, bootstrap=None):
    """kafka-python AlterConfigs of one BROKER resource; returns (error_code, message)."""
    a = kp_admin(bootstrap)
    try:
        resp = a.alter_configs([KpConfigResource(ConfigResourceType.BROKER, name, configs)])
        error_code, message = resp.resources[0][0], resp.resources[0][1]
        return error_code, message
    finally:
        a.close()


def describe_broker_kafka_python():
    a = kp_admin()
    try:
        resp = a.describe_configs([KpConfigResource(ConfigResourceType.BROKER, "1")], include_synonyms=True)
    finally:
        a.close()
    resource = resp[0].resources[0]
    lib.expect(resource[0] == 0, "describe BROKER 1 failed: %s" % (resource,))
    entries = {e[0]: e for e in resource[4]}  # (name, value, read_only, config_source, sensitive, synonyms)
    for key in ("log.retention.hours", "message.max.bytes", "log.retention.ms", "broker.id"):
        if key == "log.retention.ms":
            lib.expect(key not in entries, "log.retention.ms has no value anywhere, yet is listed")
            continue
        lib.expect(key in entries, "describe BROKER 1 lacks %s: %s" % (key, sorted(entries)))
    hours = entries["log.retention.hours"]
    lib.expect(hours[1] == "100" and hours[3] == 4, "log.retention.hours: %s (want 100, STATIC_BROKER_CONFIG)" % (hours,))
    lib.expect(hours[2] is False, "log.retention.hours is dynamic but read-only: %s" % (hours,))
    mmb = entries["message.max.bytes"]
    lib.expect(mmb[3] == 5 and mmb[2] is False, "message.max.bytes: %s (want DEFAULT_CONFIG, writable)" % (mmb,))
    roles = entries["process.roles"]
    lib.expect(roles[2] is True, "process.roles is static yet not read-only: %s" % (roles,))
    ops = entries["s3.ops.buckets"]
    lib.expect(ops[1] is None and ops[4] is True, "s3.ops.buckets (credentials) is shown: %s" % (ops,))
    lib.expect(SECRET not in repr(resp) and "AKIDREVIEW4" not in repr(resp),
               "a bucket URI's credentials reached the client")


def cluster_default_retention_reaches_topics():
    create_topic("plain")
    create_topic("own", {"retention.ms": "123456"})
    cfg = describe(ConfigResource.Type.TOPIC, "plain")
    lib.expect(cfg["retention.ms"].value == str(100 * 3600 * 1000), "static retention: %s" % cfg["retention.ms"])
    lib.expect(cfg["retention.ms"].source == ConfigSource.STATIC_BROKER_CONFIG.value,
               "static retention source: %s" % cfg["retention.ms"].source)
    code, message = kp_alter("", {"log.retention.ms": str(2 * DAY_MS)})
    lib.expect(code == 0, "alter BROKER '' log.retention.ms: %s %s" % (code, message))
    cfg = describe(ConfigResource.Type.TOPIC, "plain")
    entry = cfg["retention.ms"]
    lib.expect(entry.value == str(2 * DAY_MS), "retention.ms after the cluster default: %s" % entry.value)
    lib.expect(entry.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value, "source: %s" % entry.source)
    own = describe(ConfigResource.Type.TOPIC, "own")["retention.ms"]
    lib.expect(own.value == "123456" and own.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
               "a topic's own retention.ms: %s %s" % (own.value, own.source))
    # (these clients cannot describe the resource "" itself; the unit tests cover it)
    on_broker = describe(ConfigResource.Type.BROKER, "1")["log.retention.ms"]
    lib.expect(on_broker.value == str(2 * DAY_MS) and on_broker.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
               "log.retention.ms of broker 1: %s %s" % (on_broker.value, on_broker.source))


def per_broker_message_max_bytes_limits_produce():
    create_topic("sized")
    res = ConfigResource(ConfigResource.Type.BROKER, "1", set_config={"message.max.bytes": "2000"})
    admin().alter_configs([res], request_timeout=15)[res].result(timeout=20)
    entry = describe(ConfigResource.Type.BROKER, "1")["message.max.bytes"]
    lib.expect(entry.value == "2000" and entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value,
               "message.max.bytes: %s %s" % (entry.value, entry.source))
    lib.expect(not entry.is_read_only, "message.max.bytes is read-only")
    topic_max = describe(ConfigResource.Type.TOPIC, "sized")["max.message.bytes"]
    lib.expect(topic_max.value == "2000" and topic_max.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value,
               "topic max.message.bytes: %s %s" % (topic_max.value, topic_max.source))

    def produce(size):
        errors = []
        p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 1000000,
                      "compression.type": "none", "linger.ms": 0, "message.timeout.ms": 15000})
        p.produce("sized", b"x" * size, on_delivery=lambda err, msg: errors.append(err))
        p.flush(20)
        return errors[0] if errors else "no delivery report"

    # The broker applies new limits when it syncs its partitions (about once a second).
    lib.wait_until(lambda: produce(5000) is not None, 30, "a 5000-byte record refused")
    err = produce(5000)
    lib.expect(err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, "oversize produce: %s" % err)
    lib.expect(produce(500) is None, "a small record is still accepted")
    code, message = kp_alter("1", {})  # AlterConfigs replaces: no dynamic config left on broker 1
    lib.expect(code == 0, "clearing broker 1: %s %s" % (code, message))
    lib.wait_until(lambda: produce(5000) is None, 30, "a 5000-byte record accepted again")


def refusals_like_kafka():
    code, message = kp_alter("1", {"num.io.threads": "4"})
    lib.expect(code == INVALID_REQUEST and "Cannot update these configs dynamically" in (message or ""),
               "a static key: %s %s" % (code, message))
    code, message = kp_alter("", {"no.such.key": "4"})
    lib.expect(code == INVALID_CONFIG and "no.such.key" in (message or ""), "an unknown key: %s %s" % (code, message))
    code, message = kp_alter("", {"log.retention.ms": "soon"})
    lib.expect(code == INVALID_CONFIG, "a bad value: %s %s" % (code, message))
    res = ConfigResource(ConfigResource.Type.BROKER, "1", set_config={"log.retention.bytes": "10"})
    admin().alter_configs([res], request_timeout=15, validate_only=True)[res].result(timeout=20)
    entry = describe(ConfigResource.Type.BROKER, "1")["log.retention.bytes"]
    lib.expect(entry.value == "-1" and entry.source == ConfigSource.DEFAULT_CONFIG.value,
               "validate_only wrote log.retention.bytes: %s %s" % (entry.value, entry.source))


def survives_restart():
    broker.restart()
    entry = describe(ConfigResource.Type.TOPIC, "plain")["retention.ms"]
    lib.expect(entry.value == str(2 * DAY_MS) and entry.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
               "after restart: %s %s" % (entry.value, entry.source))


def _compact(text):
    raw = text.encode()
    return bytes([len(raw) + 1]) + raw


def _call(bootstrap, frame):
    import socket
    host, port = bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(frame)
        return lib.recv_frame(sock)


def update_features(level, bootstrap=None):
    """UpdateFeatures v1 of metadata.version: (top-level error, the feature's error, its message)."""
    import struct
    body = struct.pack(">i", 15000) + b"\x02" + _compact("metadata.version") + struct.pack(">hb", level, 1) + b"\x00"
    body += b"\x00" + b"\x00"  # validate_only=false, tagged fields
    resp = _call(bootstrap or broker.bootstrap, lib.kafka_request(57, 1, 7, body, flexible=True))
    pos = 4 + 1 + 4  # correlation id, header tagged fields, throttle
    (top,) = struct.unpack_from(">h", resp, pos)
    pos += 2
    n, pos = lib.read_uvarint(resp, pos)
    pos += max(n - 1, 0)
    count, pos = lib.read_uvarint(resp, pos)
    lib.expect(count - 1 == 1, "UpdateFeatures answered %d results" % (count - 1))
    n, pos = lib.read_uvarint(resp, pos)
    pos += n - 1
    (code,) = struct.unpack_from(">h", resp, pos)
    pos += 2
    n, pos = lib.read_uvarint(resp, pos)
    message = resp[pos:pos + n - 1].decode() if n else None
    return top, code, message


def feature_levels():
    body = _compact("floe-it") + _compact("1") + b"\x00"
    resp = _call(broker.bootstrap, lib.kafka_request(18, 3, 5, body, flexible=True))
    lib.expect(resp.count(b"metadata.version") == 2,
               "ApiVersions v3 should list metadata.version as supported and finalized: %r" % resp[-80:])
    top, code, message = update_features(99)
    lib.expect(top == 0 and code == 95, "metadata.version 99: %s %s %s (want INVALID_UPDATE_VERSION)" % (top, code, message))
    top, code, message = update_features(7)
    lib.expect(top == 0 and code == 0, "metadata.version 7 (the finalized level): %s %s %s" % (top, code, message))


class ControllerNode(lib.Broker):
    """A controller-only node (process.roles=controller)."""

    def __init__(self, root):
        super().__init__(data_dir=os.path.join(root, "controller"))
        os.makedirs(self.dir, exist_ok=True)
        self.port = lib.free_port()

    def command(self):
        return [lib.FLOE_BIN, "serve", "--override", "process.roles=controller", "--override", "node.id=100",
                "--override", "listeners=CONTROLLER://127.0.0.1:%d" % self.port,
                "--override", "controller.quorum.voters=100@127.0.0.1:%d" % self.port,
                "--override", "data.dir=%s" % os.path.join(self.dir, "data")]

    def _start_once(self):
        import subprocess
        self.starts += 1
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=self.dir,
                                     preexec_fn=lib._die_with_parent)
        lib._running.add(self)
        log.close()
        lib.wait_until(lambda: "serving the metadata quorum" in self.log_text() or self.proc.poll() is not None,
                       60, "the controller serving")
        if self.proc.poll() is not None:
            raise RuntimeError("controller exited:\n" + self.log_tail())
        return self


class ClusterBroker(lib.Broker):
    def __init__(self, root, controller):
        super().__init__(data_dir=os.path.join(root, "broker"), overrides={
            "process.roles": "broker", "node.id": "2",
            "controller.quorum.voters": "100@127.0.0.1:%d" % controller.port,
            "s3.data.buckets": "0@fs://" + os.path.join(root, "objects"),
            "broker.heartbeat.interval.ms": "500"})
        os.makedirs(self.dir, exist_ok=True)

    def command(self):
        cmd = [lib.FLOE_BIN, "serve", "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
               "--override", "data.dir=%s" % os.path.join(self.dir, "data")]
        keys = lib.known_config_keys()
        for k, v in self.overrides.items():
            if k in keys:
                cmd += ["--override", "%s=%s" % (k, v)]
        return cmd


def forwarded_from_a_broker_of_a_remote_quorum():
    root = lib.temp_dir("floe-brokercfg-")
    os.makedirs(os.path.join(root, "objects"))
    controller = ControllerNode(root)
    controller.start()
    node = ClusterBroker(root, controller)
    try:
        # The controller's own listener (the Raft transport answers ApiVersions) lists the feature
        # levels as a broker does: its first start committed metadata.version.
        body = _compact("floe-it") + _compact("1") + b"\x00"
        resp = _call("127.0.0.1:%d" % controller.port, lib.kafka_request(18, 3, 5, body, flexible=True))
        lib.expect(resp.count(b"metadata.version") == 2,
                   "the controller's ApiVersions v3 should list metadata.version as supported and finalized: %r"
                   % resp[-80:])
        node.start()
        create_topic("remote", bootstrap=node.bootstrap)
        code, message = kp_alter("", {"log.retention.ms": "7200000"}, bootstrap=node.bootstrap)
        lib.expect(code == 0, "forwarded alter: %s %s" % (code, message))
        entry = describe(ConfigResource.Type.TOPIC, "remote", bootstrap=node.bootstrap)["retention.ms"]
        lib.expect(entry.value == "7200000" and entry.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
                   "on the broker: %s %s" % (entry.value, entry.source))
        code, message = kp_alter("2", {"num.io.threads": "4"}, bootstrap=node.bootstrap)
        lib.expect(code == INVALID_REQUEST, "forwarded static key: %s %s" % (code, message))
        top, code, message = update_features(99, bootstrap=node.bootstrap)
        lib.expect(top == 0 and code == 95, "forwarded UpdateFeatures 99: %s %s %s" % (top, code, message))
        top, code, message = update_features(7, bootstrap=node.bootstrap)
        lib.expect(top == 0 and code == 0, "forwarded UpdateFeatures 7: %s %s %s" % (top, code, message))
    finally:
        node.kill()
        controller.kill()
        node.cleanup()
        controller.cleanup()


try:
    broker.start()
    results.check("kafka-python describe_configs BROKER <id>: sources and read-only", describe_broker_kafka_python)
    results.check("cluster default log.retention.ms reaches topics without their own", cluster_default_retention_reaches_topics)
    results.check("per-broker message.max.bytes limits produce", per_broker_message_max_bytes_limits_produce)
    results.check("static keys, unknown keys, bad values, validate_only", refusals_like_kafka)
    results.check("dynamic broker configs survive a restart", survives_restart)
    results.check("feature levels: ApiVersions v3 and UpdateFeatures", feature_levels)
    results.check("a broker of a remote quorum forwards broker config alters", forwarded_from_a_broker_of_a_remote_quorum)
finally:
    broker.kill()
results.finish(broker)
