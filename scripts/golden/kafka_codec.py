"""Schema-driven Kafka message codec for the golden-bytes capture tool (dev tool, stdlib only).

Reads the upstream Kafka JSON message schemas (the `schemas/` folder of a kafka-protocol copy)
and encodes/decodes any message version from/to plain Python dicts keyed by the schema's
field names. It exists so the fake broker in capture-golden.py can answer real clients at
whatever version they pick, and so captured frames can be checked by an implementation
independent of floe's C++ generated codecs.

Conventions:
  - A decoded struct is a dict {FieldName: value}; arrays are lists; `bytes`/`records` are
    Python bytes (None when null); uuid is 16 raw bytes; unknown tagged fields land in
    dict["_unknown_tags"] as {tag: raw bytes}.
  - encode() fills missing fields with the schema default (0, "", [], False, null where the
    field is nullable and has no default), so responses only name what matters.
  - Tagged fields are written only when they differ from their default.
Not a production codec: no bounds beyond Python's own, errors are exceptions.
"""
import json
import os
import struct


def _parse_versions(spec):
    """'3+' -> (3, 32767); '0-7' -> (0, 7); '5' -> (5, 5); 'none' -> None."""
    if spec is None or spec == "none":
        return None
    if spec.endswith("+"):
        return (int(spec[:-1]), 0x7FFF)
    if "-" in spec:
        lo, hi = spec.split("-")
        return (int(lo), int(hi))
    return (int(spec), int(spec))


def _in(rng, v):
    return rng is not None and rng[0] <= v <= rng[1]


class Schemas:
    def __init__(self, folder):
        self.folder = folder
        self.by_name = {}
        for fn in os.listdir(folder):
            if not fn.endswith(".json"):
                continue
            with open(os.path.join(folder, fn)) as f:
                text = "\n".join(line for line in f.read().split("\n") if not line.strip().startswith("//"))
            d = json.loads(text)
            self.by_name[d["name"]] = d
        self.request_by_key = {d["apiKey"]: d for d in self.by_name.values() if d.get("type") == "request"}
        self.response_by_key = {d["apiKey"]: d for d in self.by_name.values() if d.get("type") == "response"}

    def message(self, name):
        return Message(self.by_name[name])

    def request(self, api_key):
        return Message(self.request_by_key[api_key])

    def response(self, api_key):
        return Message(self.response_by_key[api_key])

    def request_header_version(self, api_key, api_version):
        # ControlledShutdown v0 used header v0; everything else: v1, or v2 when flexible.
        if api_key == 7 and api_version == 0:
            return 0
        return 2 if self.request(api_key).is_flexible(api_version) else 1

    def response_header_version(self, api_key, api_version):
        if api_key == 18:  # ApiVersions responses always use header v0 (clients parse it before knowing)
            return 0
        return 1 if self.response(api_key).is_flexible(api_version) else 0


class Message:
    def __init__(self, d):
        self.d = d
        self.name = d["name"]
        self.flex = _parse_versions(d.get("flexibleVersions", "none"))
        self.common = {s["name"]: s for s in d.get("commonStructs", [])}

    def is_flexible(self, v):
        return _in(self.flex, v)

    # ---------------------------------------------------------------- decoding
    def decode(self, data, version, pos=0):
        r = _Reader(data, pos)
        out = self._decode_fields(r, self.d["fields"], version, self.is_flexible(version))
        return out, r.pos

    def _field_flex(self, f, flexible):
        if "flexibleVersions" in f:
            return False if f["flexibleVersions"] == "none" else flexible
        return flexible

    def _struct_fields(self, f):
        if "fields" in f:
            return f["fields"]
        t = f["type"][2:] if f["type"].startswith("[]") else f["type"]
        return self.common[t]["fields"]

    def _decode_fields(self, r, fields, v, flexible):
        out = {}
        tagged = {}
        for f in fields:
            if not _in(_parse_versions(f["versions"]), v):
                continue
            if flexible and _in(_parse_versions(f.get("taggedVersions")), v):
                tagged[f["tag"]] = f
                out[f["name"]] = self._default(f, v)
                continue
            out[f["name"]] = self._decode_value(r, f, v, self._field_flex(f, flexible))
        if flexible:
            n = r.uvarint()
            for _ in range(n):
                tag = r.uvarint()
                size = r.uvarint()
                raw = r.take(size)
                if tag in tagged:
                    sub = _Reader(raw, 0)
                    out[tagged[tag]["name"]] = self._decode_value(sub, tagged[tag], v, flexible)
                else:
                    out.setdefault("_unknown_tags", {})[tag] = raw
        return out

    def _nullable(self, f, v):
        return _in(_parse_versions(f.get("nullableVersions")), v)

    def _decode_value(self, r, f, v, flexible):
        t = f["type"]
        if t.startswith("[]"):
            n = r.uvarint() - 1 if flexible else r.i32()
            if n < 0:
                return None
            et = t[2:]
            if et in _PRIMS:
                return [_PRIMS[et][1](r) for _ in range(n)]
            sf = self._struct_fields(f)
            return [self._decode_fields(r, sf, v, flexible) for _ in range(n)]
        if t in _PRIMS:
            return _PRIMS[t][1](r)
        if t == "string":
            n = r.uvarint() - 1 if flexible else r.i16()
            return None if n < 0 else r.take(n).decode("utf-8")
        if t in ("bytes", "records"):
            n = r.uvarint() - 1 if flexible else r.i32()
            return None if n < 0 else r.take(n)
        return self._decode_fields(r, self._struct_fields(f), v, flexible)

    # ---------------------------------------------------------------- encoding
    def encode(self, obj, version):
        w = bytearray()
        self._encode_fields(w, self.d["fields"], obj, version, self.is_flexible(version))
        return bytes(w)

    def _default(self, f, v):
        t = f["type"]
        if "default" in f:
            dv = f["default"]
            if dv == "null":
                return None
            if t in ("int8", "int16", "int32", "int64", "uint16"):
                return int(dv, 0) if isinstance(dv, str) else int(dv)
            if t == "bool":
                return dv in (True, "true")
            if t == "float64":
                return float(dv)
            return dv
        if t.startswith("[]"):
            return []
        if t in ("int8", "int16", "int32", "int64", "uint16"):
            return 0
        if t == "float64":
            return 0.0
        if t == "bool":
            return False
        if t == "string":
            return ""
        if t in ("bytes", "records"):
            return b""
        if t == "uuid":
            return bytes(16)
        return {}

    def _encode_fields(self, w, fields, obj, v, flexible):
        tagged = []
        for f in fields:
            if not _in(_parse_versions(f["versions"]), v):
                continue
            val = obj.get(f["name"], self._default(f, v))
            if flexible and _in(_parse_versions(f.get("taggedVersions")), v):
                if val != self._default(f, v):
                    tagged.append((f["tag"], f, val))
                continue
            self._encode_value(w, f, val, v, self._field_flex(f, flexible))
        if flexible:
            tagged.sort(key=lambda x: x[0])
            _uvarint(w, len(tagged))
            for tag, f, val in tagged:
                sub = bytearray()
                self._encode_value(sub, f, val, v, flexible)
                _uvarint(w, tag)
                _uvarint(w, len(sub))
                w += sub

    def _encode_value(self, w, f, val, v, flexible):
        t = f["type"]
        if t.startswith("[]"):
            if val is None:
                if flexible:
                    _uvarint(w, 0)
                else:
                    w += struct.pack(">i", -1)
                return
            if flexible:
                _uvarint(w, len(val) + 1)
            else:
                w += struct.pack(">i", len(val))
            et = t[2:]
            for item in val:
                if et in _PRIMS:
                    _PRIMS[et][0](w, item)
                else:
                    self._encode_fields(w, self._struct_fields(f), item, v, flexible)
            return
        if t in _PRIMS:
            _PRIMS[t][0](w, val)
            return
        if t in ("string", "bytes", "records"):
            if val is None:
                if flexible:
                    _uvarint(w, 0)
                else:
                    w += struct.pack(">h" if t == "string" else ">i", -1)
                return
            raw = val.encode("utf-8") if isinstance(val, str) else bytes(val)
            if flexible:
                _uvarint(w, len(raw) + 1)
            else:
                w += struct.pack(">h" if t == "string" else ">i", len(raw))
            w += raw
            return
        self._encode_fields(w, self._struct_fields(f), val, v, flexible)


def _uvarint(w, n):
    while n >= 0x80:
        w.append((n & 0x7F) | 0x80)
        n >>= 7
    w.append(n)


class _Reader:
    def __init__(self, data, pos):
        self.data = data
        self.pos = pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"truncated: want {n} at {self.pos} of {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(b)

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))[0]

    def i16(self):
        return self.unpack(">h")

    def i32(self):
        return self.unpack(">i")

    def uvarint(self):
        shift = 0
        result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")


_PRIMS = {
    "int8": (lambda w, x: w.extend(struct.pack(">b", x)), lambda r: r.unpack(">b")),
    "int16": (lambda w, x: w.extend(struct.pack(">h", x)), lambda r: r.unpack(">h")),
    "uint16": (lambda w, x: w.extend(struct.pack(">H", x)), lambda r: r.unpack(">H")),
    "int32": (lambda w, x: w.extend(struct.pack(">i", x)), lambda r: r.unpack(">i")),
    "int64": (lambda w, x: w.extend(struct.pack(">q", x)), lambda r: r.unpack(">q")),
    "float64": (lambda w, x: w.extend(struct.pack(">d", x)), lambda r: r.unpack(">d")),
    "bool": (lambda w, x: w.append(1 if x else 0), lambda r: r.take(1)[0] != 0),
    "uuid": (lambda w, x: w.extend(bytes(x)), lambda r: r.take(16)),
}


def decode_request(schemas, frame):
    """frame = header+body (no size prefix) -> (header dict, api_key, api_version, body dict, trailing)."""
    api_key, api_version = struct.unpack(">hh", frame[:4])
    hv = schemas.request_header_version(api_key, api_version)
    header, pos = schemas.message("RequestHeader").decode(frame, hv)
    body, end = schemas.request(api_key).decode(frame, api_version, pos)
    return header, api_key, api_version, body, len(frame) - end


def encode_response(schemas, api_key, api_version, correlation_id, body):
    hv = schemas.response_header_version(api_key, api_version)
    head = schemas.message("ResponseHeader").encode({"CorrelationId": correlation_id}, hv)
    return head + schemas.response(api_key).encode(body, api_version)


def encode_request(schemas, api_key, api_version, header, body):
    hv = schemas.request_header_version(api_key, api_version)
    return schemas.message("RequestHeader").encode(header, hv) + schemas.request(api_key).encode(body, api_version)
