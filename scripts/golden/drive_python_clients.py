"""Drives the Debian Python Kafka clients with fixed content (run with /usr/bin/python3).

usage: drive_python_clients.py <kafka-python|confluent> <produce|consume|group> <codec> <host:port>

Records: keys "key-<i>", values "value-<i>", header h1=v1, timestamp 1700000000000, topic
"golden", partition 0; 3 records (confluent) or 10 (kafka-python: it sends a batch uncompressed
when compressing does not make it smaller, which 3 tiny records never do with snappy/lz4). consume = assigned partition (no group); group =
subscribe as "golden-group", poll briefly, commit offset 3, close (LeaveGroup).
Bounded: every loop below stops after a few seconds; the caller also kills on timeout.
"""
import sys
import time

TOPIC = "golden"
GROUP = "golden-group"
def records(n):
    return [(b"key-%d" % i, b"value-%d" % i) for i in range(n)]
TIMESTAMP_MS = 1700000000000


def kafka_python(mode, codec, broker):
    import kafka
    from kafka.structs import OffsetAndMetadata, TopicPartition

    common = dict(bootstrap_servers=[broker], client_id="golden-kafka-python", request_timeout_ms=10000)
    if mode == "produce":
        p = kafka.KafkaProducer(compression_type=None if codec == "none" else codec, linger_ms=100, acks="all",
                                **common)
        for k, v in records(10):
            p.send(TOPIC, key=k, value=v, partition=0, headers=[("h1", b"v1")], timestamp_ms=TIMESTAMP_MS)
        p.flush(10)
        p.close(5)
        return
    if mode == "consume":
        c = kafka.KafkaConsumer(auto_offset_reset="earliest", fetch_max_wait_ms=100, group_id=None,
                                enable_auto_commit=False, **common)
        c.assign([TopicPartition(TOPIC, 0)])
        deadline = time.time() + 3
        while time.time() < deadline:
            c.poll(timeout_ms=200)
        c.close()
        return
    c = kafka.KafkaConsumer(TOPIC, group_id=GROUP, auto_offset_reset="earliest", fetch_max_wait_ms=100,
                            enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=1000,
                            **dict(common, request_timeout_ms=15000))
    deadline = time.time() + 4
    while time.time() < deadline:
        c.poll(timeout_ms=200)
    c.commit({TopicPartition(TOPIC, 0): OffsetAndMetadata(3, None)})
    c.close()


def confluent(mode, codec, broker):
    import confluent_kafka as ck

    common = {"bootstrap.servers": broker, "client.id": "golden-confluent"}
    if mode == "produce":
        p = ck.Producer(dict(common, **{"enable.idempotence": True, "linger.ms": 100, "compression.type": codec}))
        for k, v in records(3):
            p.produce(TOPIC, key=k, value=v, partition=0, headers=[("h1", b"v1")], timestamp=TIMESTAMP_MS)
        p.flush(10)
        return
    if mode == "consume":
        raise SystemExit("confluent consume: use kcat")
    c = ck.Consumer(dict(common, **{"group.id": GROUP, "auto.offset.reset": "earliest",
                                    "enable.auto.commit": False, "fetch.wait.max.ms": 100}))
    c.subscribe([TOPIC])
    deadline = time.time() + 4
    while time.time() < deadline:
        c.poll(0.2)
    try:
        c.commit(offsets=[ck.TopicPartition(TOPIC, 0, 3)], asynchronous=False)
    except ck.KafkaException as e:
        print("commit:", e, file=sys.stderr)
    c.close()


if __name__ == "__main__":
    client, mode, codec, broker = sys.argv[1:5]
    {"kafka-python": kafka_python, "confluent": confluent}[client](mode, codec, broker)
