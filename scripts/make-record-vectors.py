#!/usr/bin/python3
"""Writes cross-implementation record vectors with kafka-python (Debian's python3-kafka).

Run with Debian's interpreter: /usr/bin/python3 scripts/make-record-vectors.py
Needs python3-kafka python3-snappy python3-lz4 python3-zstandard python3-xxhash.

Outputs testdata/records/<name>.bin and testdata/records/manifest.txt. Each .bin is what a broker
stores or a client sends: v2_<codec>.bin holds two RecordBatch v2 (a small non-idempotent batch at
base offset 0 and a larger transactional idempotent batch at base offset 5, > 32 KiB so snappy and
lz4 use several blocks); v0_<codec>.bin / v1_<codec>.bin hold a legacy message set in log form
(absolute offsets starting at 100; compressed sets are one wrapper).

manifest.txt, one line per record, fields separated by spaces:
  record <file> <batch index> <offset> <timestamp> <key hex|-> <value hex|-> <header count>
         [<header key hex> <header value hex|->]...
and one line per batch:
  batch <file> <index> <magic> <codec id> <base offset> <record count> <producer id> <producer epoch>
        <base sequence> <transactional 0|1>
Hex "" (empty) is written as "=" so that empty and null stay distinct; values over 64 bytes are
written as crc32c:<8 hex digits>:<length>.
"""
import os
import struct
import sys

from kafka.record.default_records import DefaultRecordBatchBuilder, DefaultRecordBatch
from kafka.record.legacy_records import LegacyRecordBatchBuilder, LegacyRecordBatch
from kafka.record.util import calc_crc32c

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "records")
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
manifest = []


def hx(b):
    if b is None:
        return "-"
    if len(b) > 64:  # keep the manifest small: long values by length and CRC32C
        return "crc32c:%08x:%d" % (calc_crc32c(bytes(b)), len(b))
    return b.hex() if len(b) else "="


def small_records():
    base_ts = 1700000000000
    return [
        (base_ts, b"key-0", b"hello floe " * 8, [("trace", b"abc"), ("h2", b"")]),
        (base_ts + 5, None, b"null key " * 10, []),
        (base_ts - 3, b"tombstone", None, [("deleted", b"yes")]),
        (base_ts + 9, b"", b"", []),
        (base_ts + 9, b"k4", bytes(range(256)) * 2, []),
    ]


def large_records():
    base_ts = 1700000100000
    out = []
    for i in range(300):
        value = ("value %05d " % i).encode() * 30  # ~330 bytes, compressible
        out.append((base_ts + i, ("key-%d" % i).encode(), value, [("i", str(i).encode())] if i % 10 == 0 else []))
    return out


def v2_batch(codec, records, base_offset, producer_id=-1, producer_epoch=-1, base_sequence=-1,
             transactional=False):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=transactional,
                                  producer_id=producer_id, producer_epoch=producer_epoch,
                                  base_sequence=base_sequence, batch_size=1 << 30)
    for i, (ts, k, v, h) in enumerate(records):
        assert b.append(i, timestamp=ts, key=k, value=v, headers=h) is not None
    buf = bytearray(b.build())
    struct.pack_into(">q", buf, 0, base_offset)  # baseOffset lies outside the CRC
    batch = DefaultRecordBatch(bytes(buf))
    assert batch.validate_crc()
    assert batch.compression_type == codec, "kafka-python fell back to uncompressed"
    return bytes(buf)


def write_v2(name, codec):
    fname = "v2_%s.bin" % name
    batches = [
        (0, small_records(), dict()),
        (5, large_records(), dict(producer_id=1000, producer_epoch=2, base_sequence=5, transactional=True)),
    ]
    data = b""
    for index, (base, recs, kw) in enumerate(batches):
        data += v2_batch(codec, recs, base, **kw)
        manifest.append("batch %s %d 2 %d %d %d %d %d %d %d" % (
            fname, index, codec, base, len(recs), kw.get("producer_id", -1), kw.get("producer_epoch", -1),
            kw.get("base_sequence", -1), 1 if kw.get("transactional") else 0))
        for i, (ts, k, v, h) in enumerate(recs):
            fields = ["record", fname, str(index), str(base + i), str(ts), hx(k), hx(v), str(len(h))]
            for hk, hv in h:
                fields += [hx(hk.encode()), hx(hv)]
            manifest.append(" ".join(fields))
    # Self-check: kafka-python parses what it wrote.
    pos = 0
    while pos < len(data):
        length = struct.unpack_from(">i", data, pos + 8)[0]
        batch = DefaultRecordBatch(data[pos:pos + 12 + length])
        assert len(list(batch)) > 0
        pos += 12 + length
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(data)


def write_legacy(magic, name, codec):
    fname = "v%d_%s.bin" % (magic, name)
    base = 100
    recs = [(1700000200000 + i * 7, None if i == 2 else ("k%d" % i).encode(),
             None if i == 4 else ("legacy value %d " % i).encode() * 6) for i in range(6)]
    b = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 30)
    for i, (ts, k, v) in enumerate(recs):
        # Producers number inner messages 0..n-1 (magic 1: relative; magic 0: the broker rewrites
        # them to absolute). Uncompressed sets and magic-0 inner sets carry absolute offsets in a log.
        offset = i if (codec and magic == 1) else base + i
        assert b.append(offset, timestamp=ts, key=k, value=v) is not None
    buf = bytearray(b.build())
    if codec:
        struct.pack_into(">q", buf, 0, base + len(recs) - 1)  # wrapper: last absolute offset
    data = bytes(buf)
    manifest.append("batch %s 0 %d %d %d %d -1 -1 -1 0" % (fname, magic, codec, base, len(recs)))
    for i, (ts, k, v) in enumerate(recs):
        manifest.append(" ".join(["record", fname, "0", str(base + i), str(ts if magic == 1 else -1), hx(k), hx(v), "0"]))
    # Self-check through kafka-python's reader (uncompressed sets are one message per entry).
    if codec:
        got = list(LegacyRecordBatch(data, magic))
        assert len(got) == len(recs), got
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, codec in CODECS.items():
        write_v2(name, codec)
    for magic in (0, 1):
        for name, codec in CODECS.items():
            if name != "zstd":
                write_legacy(magic, name, codec)
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("# generated by scripts/make-record-vectors.py (kafka-python %s); do not edit\n" % __import__("kafka").__version__)
        f.write("\n".join(manifest) + "\n")
    print("wrote %d lines to %s" % (len(manifest), os.path.join(OUT, "manifest.txt")))


if __name__ == "__main__":
    sys.exit(main())
