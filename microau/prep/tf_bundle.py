"""Reading a TensorFlow checkpoint (the authors' learned-magnifier release) without TensorFlow:
the LevelDB-table index of the bundle, its BundleEntryProto entries and the data shard."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class MagnetFormatError(ValueError):
    """A magnifier checkpoint that cannot be read, in one line (re-exported by
    :mod:`microau.prep.magnet_formats`, whose every reading error it is)."""


_TF_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?", 19: "<f2"}
_SSTABLE_MAGIC = 0xDB4775248B80FB57


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, pos
        shift += 7


def _proto_fields(buf: bytes) -> list[tuple[int, object]]:
    """(field number, value) pairs of a serialized protobuf message (wire types 0, 1, 2, 5)."""
    pos, out = 0, []
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise MagnetFormatError(f"unsupported protobuf wire type {wire}")
        out.append((field, value))
    return out


def _sstable_block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one uncompressed SSTable block (LevelDB table format)."""
    if data[offset + size] != 0:
        raise MagnetFormatError("compressed checkpoint index blocks are not supported")
    block = data[offset:offset + size]
    n_restarts = int.from_bytes(block[-4:], "little")
    end = len(block) - 4 - 4 * n_restarts
    pos, key, out = 0, b"", []
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def read_tf_bundle(prefix: str | Path) -> dict[str, np.ndarray]:
    """name -> array for every tensor of a TensorFlow (V2, tensor bundle) checkpoint ``prefix``
    (``prefix.index`` and ``prefix.data-*-of-*``), read with the standard library and numpy."""
    prefix = str(prefix)
    index = Path(prefix + ".index").read_bytes()
    if int.from_bytes(index[-8:], "little") != _SSTABLE_MAGIC:
        raise MagnetFormatError(f"{prefix}.index is not a TensorFlow checkpoint index")
    footer = index[-48:]
    _, pos = _varint(footer, 0)  # metaindex handle (offset, size), unused
    _, pos = _varint(footer, pos)
    idx_off, pos = _varint(footer, pos)
    idx_size, pos = _varint(footer, pos)
    entries = []
    for _, handle in _sstable_block(index, idx_off, idx_size):
        off, p2 = _varint(handle, 0)
        size, _ = _varint(handle, p2)
        entries += _sstable_block(index, off, size)
    shards: dict[int, bytes] = {}
    out = {}
    for key, value in entries:
        if not key:  # the bundle header
            continue
        fields = dict()
        for f, v in _proto_fields(value):
            fields.setdefault(f, v)
        if 7 in fields:
            raise MagnetFormatError(f"partitioned variable {key.decode()!r} is not supported")
        dtype = _TF_DTYPES.get(fields.get(1, 0))
        if dtype is None:
            continue  # strings and other non-numeric entries carry no weights
        dims = [dict(_proto_fields(d)).get(1, 0) for f, d in _proto_fields(fields.get(2, b"")) if f == 2]
        shard = fields.get(3, 0)
        if shard not in shards:
            found = sorted(Path(prefix).parent.glob(Path(prefix).name + f".data-{shard:05d}-of-*"))
            if not found:
                raise MagnetFormatError(f"data shard {shard} of {prefix} is missing")
            shards[shard] = found[0].read_bytes()
        offset, size = fields.get(4, 0), fields.get(5, 0)
        raw = shards[shard][offset:offset + size]
        out[key.decode()] = np.frombuffer(raw, dtype=dtype).reshape(dims).astype(np.dtype(dtype).newbyteorder("="))
    return out
