"""Decode Kafka record batches (magic 2) for checking golden Produce frames (dev tool).

decode_batches(raw) -> list of dicts with the batch header fields, the codec name, whether a
snappy payload used xerial framing, and the records (key, value, headers, deltas).
gzip uses the stdlib; snappy/lz4/zstd use the Debian python3-snappy / python3-lz4 /
python3-zstandard modules when importable (run with /usr/bin/python3), else records are
left undecoded ("records": None).
"""
import gzip
import struct

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
XERIAL_MAGIC = b"\x82SNAPPY\x00"


def _varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def _unxerial(data, snappy):
    # xerial framing: 8-byte magic, 2 x int32 version fields, then (int32 length, raw block)*.
    pos, out = 16, b""
    while pos < len(data):
        (n,) = struct.unpack(">i", data[pos:pos + 4])
        out += snappy.uncompress(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def _decompress(codec, data):
    if codec == 0:
        return data, None
    if codec == 1:
        return gzip.decompress(data), None
    try:
        if codec == 2:
            import snappy
            if data.startswith(XERIAL_MAGIC):
                return _unxerial(data, snappy), True
            return snappy.uncompress(data), False
        if codec == 3:
            import lz4.frame
            return lz4.frame.decompress(data), None
        if codec == 4:
            import zstandard
            return zstandard.ZstdDecompressor().decompressobj().decompress(data), None
    except ImportError:
        return None, None
    raise ValueError(f"unknown codec {codec}")


def decode_batches(raw):
    batches, pos = [], 0
    while pos + 61 <= len(raw):
        base_offset, length, leader_epoch, magic, crc, attrs, last_delta, first_ts, max_ts, pid, epoch, base_seq, \
            count = struct.unpack(">qiibIhiqqqhii", raw[pos:pos + 61])
        body = raw[pos + 61:pos + 12 + length]
        codec = attrs & 7
        plain, xerial = _decompress(codec, body)
        b = dict(base_offset=base_offset, length=length, leader_epoch=leader_epoch, magic=magic, crc=crc,
                 attributes=attrs, codec=CODECS.get(codec, codec), snappy_xerial=xerial, last_offset_delta=last_delta,
                 first_timestamp=first_ts, max_timestamp=max_ts, producer_id=pid, producer_epoch=epoch,
                 base_sequence=base_seq, count=count, records=None)
        if plain is not None:
            b["records"] = _records(plain, count)
        batches.append(b)
        pos += 12 + length
    return batches


def _records(buf, count):
    out, pos = [], 0
    for _ in range(count):
        length, pos = _varint(buf, pos)
        end = pos + length
        attrs = buf[pos]
        pos += 1
        ts_delta, pos = _varint(buf, pos)
        off_delta, pos = _varint(buf, pos)
        klen, pos = _varint(buf, pos)
        key = None if klen < 0 else bytes(buf[pos:pos + klen])
        pos += max(klen, 0)
        vlen, pos = _varint(buf, pos)
        value = None if vlen < 0 else bytes(buf[pos:pos + vlen])
        pos += max(vlen, 0)
        nh, pos = _varint(buf, pos)
        headers = []
        for _ in range(nh):
            hk, pos = _varint(buf, pos)
            hkey = bytes(buf[pos:pos + hk]).decode()
            pos += hk
            hv, pos = _varint(buf, pos)
            hval = None if hv < 0 else bytes(buf[pos:pos + hv])
            pos += max(hv, 0)
            headers.append((hkey, hval))
        if pos != end:
            raise ValueError(f"record length mismatch: at {pos}, expected {end}")
        out.append(dict(attributes=attrs, timestamp_delta=ts_delta, offset_delta=off_delta, key=key, value=value,
                        headers=headers))
    return out
