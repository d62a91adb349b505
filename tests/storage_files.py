"""Savable sample objects, their answers, and tools to forge damaged learnedidx files.

Shared by ``test_storage.py``, ``test_storage_fuzz.py`` and ``test_kv.py``.

* :func:`sample_objects`: one small object of every savable type and value kind.
* :func:`answers`: everything an object answers for a query array, as plain lists, so an
  object before and after a round trip can be compared with ``==``.
* :func:`forge`: rewrite a valid file's JSON header (any edit) and re-lay it out with
  valid checksums, so a test reaches the checks behind the checksums.
* :func:`repack`: rewrite preamble fields with a valid preamble checksum.
* :func:`rewrite_section`: replace a section's bytes and fix its checksum, so a test
  reaches the checks of what a section holds.
"""
from __future__ import annotations

import json
import struct
import zlib

import numpy as np

import learnedidx
from learnedidx.storage import format as fmt

# ------------------------------------------------------------------ objects


def _keys(dtype, n=3000, seed=0, dups=False):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        k = rng.lognormal(0, 2, n).astype(dtype)
    else:
        hi = min(np.iinfo(dtype).max, 10 ** 12)
        lo = max(np.iinfo(dtype).min, -10 ** 12)
        k = rng.integers(lo, hi, n, dtype=dtype, endpoint=True)
    if dups:
        k[::5] = k[1::5][: k[::5].size]
    k = np.sort(k)
    if not dups:
        k = np.unique(k)
    return k


def sample_objects() -> dict:
    """``name -> object``: every savable type, several dtypes and value kinds (small)."""
    from learnedidx.baselines import BTree
    RMI, KV = learnedidx.RMI, learnedidx.KeyValueIndex
    u64 = _keys(np.uint64)
    f64 = _keys(np.float64, seed=1)
    i32 = _keys(np.int32, seed=2, dups=True)
    objs = {
        "rmi_u64": RMI(u64),
        "rmi_f64_cubic_3stages": RMI(f64, root="cubic", leaves=64, stages=3),
        "rmi_i32_dups_linear": RMI(i32, root="linear", leaves=7),
        "rmi_u32_spline": RMI(_keys(np.uint32, seed=3), root="spline", leaves=33),
        "rmi_i64_loglinear": RMI(_keys(np.int64, seed=4), root="loglinear", leaves=16),
        "rmi_f32": RMI(_keys(np.float32, seed=5), leaves=5),
        "rmi_hybrid": RMI(u64, leaves=4, max_error=8),
        "rmi_fences_u64": RMI(u64, leaves=9, leaf_model="fences"),
        "rmi_fences_f64_3stages": RMI(f64, root="cubic", leaves=40, stages=3, leaf_model="fences"),
        "rmi_empty": RMI(np.zeros(0, dtype=np.int64)),
        "rmi_one": RMI(np.array([7.5])),
        "btree_u64": BTree(u64),
        "btree_i32_dups": BTree(i32, node_bytes=128, page_keys=5),
        "btree_f32": BTree(_keys(np.float32, seed=6), page_keys=3),
        "btree_empty": BTree(np.zeros(0, dtype=np.uint32)),
        "kv_f64": KV.build(u64, np.linspace(0, 1, u64.size)),
        "kv_struct": KV.build(f64, np.array([(i, -i, b"x" * (i % 4)) for i in range(f64.size)],
                                            dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S3")])),
        "kv_rows": KV.build(i32, np.arange(i32.size * 3, dtype=np.int16).reshape(-1, 3), duplicates="keep"),
        "kv_bytes": KV.build(u64, [b"v%d" % i * (i % 3) for i in range(u64.size)]),
        "kv_empty": KV.build(np.zeros(0, dtype=np.float32), []),
        "kv_fences": KV.build(i32, np.arange(i32.size, dtype=np.uint16), duplicates="keep",
                              index={"leaves": 6, "leaf_model": "fences"}),
    }
    from learnedidx.containers import SortedDict, SortedList, SortedSet
    churned = SortedList(u64[:1000])                    # a static run plus buffered updates
    churned.update(u64[1000:1100] + 1)
    for k in u64[:300:3].tolist():
        churned.discard(k)
    objs.update({
        "sortedlist_churned": churned,
        "sortedlist_f64": SortedList(f64),
        "sortedset_i32": SortedSet(i32),
        "sorteddict_f32": SortedDict(dict(zip(i32.tolist(), range(i32.size))), value_dtype=np.float32),
        "sortedlist_empty": SortedList(dtype=np.uint32),
    })
    return objs


def keys_of(obj) -> np.ndarray:
    """The sorted keys of any sample object, as an array of its key dtype."""
    keys = getattr(obj, "keys", None)
    if isinstance(keys, np.ndarray):
        return keys
    return np.array(list(obj), dtype=obj.dtype)


def queries_for(obj, seed=0, m=400) -> np.ndarray:
    """Present keys, their neighbours and random values of the key dtype."""
    keys = keys_of(obj)
    dt = keys.dtype
    rng = np.random.default_rng(seed)
    parts = [keys[rng.integers(0, keys.size, m)]] if keys.size else []
    if dt.kind == "f":
        parts.append(rng.normal(0, 100, m).astype(dt))
        parts.append(np.array([-np.inf, np.inf, np.nan, 0.0], dtype=dt))
    else:
        info = np.iinfo(dt)
        parts.append(rng.integers(max(info.min, -10 ** 12), min(info.max, 10 ** 12), m, dtype=dt))
        parts.append(np.array([info.min, info.max], dtype=dt))
        if keys.size:
            parts.append((keys[rng.integers(0, keys.size, m)].astype(np.float64) + 1).astype(dt))
    return np.concatenate(parts).astype(dt)


def answers(obj, q: np.ndarray):
    """What ``obj`` answers for ``q``: positions, lookups, values (plain Python lists)."""
    if isinstance(obj, learnedidx.KeyValueIndex):
        values, found = obj.get_many(q, return_found=True)
        vals = values if isinstance(values, list) else values.tolist()
        lo, hi = (q[0], q[-1]) if q.size else (0, 0)
        rk, rv = obj.range(min(lo, hi), max(lo, hi))
        scalar = [obj.get(v.item(), "absent") for v in q[:20]]
        scalar = [s.tolist() if hasattr(s, "tolist") else s for s in scalar]
        return (vals, found.tolist(), rk.tolist(), rv if isinstance(rv, list) else rv.tolist(), scalar, len(obj))
    if not hasattr(obj, "searchsorted"):                 # a sorted container
        items = list(obj.items()) if hasattr(obj, "items") else list(obj)
        return (items, obj.bisect_left_many(q).tolist(), obj.contains_many(q).tolist(),
                [obj.bisect_right(v.item()) for v in q[:50] if v == v], len(obj))
    left = obj.searchsorted(q).tolist()
    right = obj.searchsorted(q, side="right").tolist()
    look = obj.lookup(q).tolist()
    scalar = [obj.searchsorted(v.item()) for v in q[:50]]
    return left, right, look, scalar, len(obj)


# ------------------------------------------------------------------ forging

def split(data: bytes):
    """``(doc, data_start)`` of a valid file's bytes."""
    (_, _, _, hlen, _, _, _) = fmt.PREAMBLE.unpack(data[:64])
    return json.loads(data[64:64 + hlen]), fmt.align(64 + hlen)


def repack(data: bytes, **fields) -> bytes:
    """``data`` with preamble fields replaced (magic, version, flags, hlen, flen, hcrc) and a valid preamble CRC."""
    names = ("magic", "version", "flags", "hlen", "flen", "hcrc")
    vals = dict(zip(names, fmt.PREAMBLE.unpack(data[:64])[:6]))
    vals.update(fields)
    pre = fmt.PREAMBLE.pack(*[vals[n] for n in names], 0)[:60]
    reserved = fields.get("reserved")
    if reserved is not None:
        pre = pre[:36] + reserved + pre[60:]
    return pre + struct.pack("<I", zlib.crc32(pre)) + data[64:]


def forge(data: bytes, mutate=None, header: bytes | None = None) -> bytes:
    """Re-write the JSON header of a valid file (``mutate(doc)`` edits it in place).

    The sections' bytes keep their place relative to the data start, which moves with
    the header's size, and the doc's offsets move with it (an edited offset keeps its
    edit).  ``header`` replaces the JSON text outright.  The preamble's lengths and
    checksums are made valid.
    """
    doc, start = split(data)
    body = data[start:]
    if mutate is not None:
        mutate(doc)
    secs = doc.get("sections") if isinstance(doc, dict) else None
    secs = [s for s in secs if isinstance(s, dict) and isinstance(s.get("offset"), int)] \
        if isinstance(secs, list) else []
    base = [s["offset"] for s in secs]
    new_start = start
    for _ in range(8):                   # offsets change the header's size, which moves the data
        for s, b in zip(secs, base):
            s["offset"] = b - start + new_start
        raw = header if header is not None else json.dumps(doc, separators=(",", ":")).encode()
        aligned = fmt.align(64 + len(raw))
        if aligned == new_start:
            break
        new_start = aligned
    out = b"\0" * 64 + raw + bytes(new_start - 64 - len(raw)) + body
    return repack(out, magic=fmt.MAGIC, version=fmt.VERSION, flags=0, hlen=len(raw), flen=len(out),
                  hcrc=zlib.crc32(raw))


def section(data: bytes, name: str) -> tuple[int, int]:
    """``(offset, nbytes)`` of the section called ``name`` in a valid file's bytes."""
    doc, _ = split(data)
    sec = next(s for s in doc["sections"] if s["name"] == name)
    return sec["offset"], sec["nbytes"]


def rewrite_section(data: bytes, name: str, new) -> bytes:
    """``data`` with the bytes of section ``name`` replaced by ``new`` (bytes or an array of
    the same size) and the section's CRC32 in the header made to match them."""
    new = new.tobytes() if isinstance(new, np.ndarray) else bytes(new)
    off, nbytes = section(data, name)
    assert len(new) == nbytes, f"section {name!r} holds {nbytes} bytes, not {len(new)}"
    body = data[:off] + new + data[off + nbytes:]

    def fix(doc):
        next(s for s in doc["sections"] if s["name"] == name)["crc32"] = f"{zlib.crc32(new):08x}"
    return forge(body, fix)


class Fake:
    """A minimal savable type for registry tests (registered by a test under the tag "Fake")."""

    reject = False

    def __init__(self, table: np.ndarray, meta: dict):
        self.table, self.meta = table, meta

    def _state(self):
        return dict(self.meta), {"table": self.table}

    @classmethod
    def _from_state(cls, meta, arrays):
        if cls.reject:
            raise ValueError("rejected")
        return cls(arrays["table"], meta)
