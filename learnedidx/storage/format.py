"""The bytes of a learnedidx file: preamble, JSON header, 64-byte aligned sections.

One job: turn ``(type tag, meta, named arrays)`` into one self-describing file and back,
treating every file read as untrusted.  It knows nothing of the types it stores (that
is :mod:`learnedidx.storage.registry` and each type's ``_state``/``_from_state``).
The layout is documented byte by byte in ``docs/FORMAT.md``; in short::

    0       64-byte preamble: magic, version, flags, header length, file length,
            header CRC32, reserved zeros, CRC32 of the preamble itself
    64      UTF-8 JSON header: type tag, meta, and for each section its name, dtype,
            shape, offset, length and CRC32; zero padding to a 64-byte boundary
    ...     each section's bytes at a 64-byte aligned offset, zero padding after it

Every byte is covered: the preamble and the header by their CRC32s, the sections by
theirs, the padding by a check that it is zero.  The layout is canonical (each section
starts at the first aligned offset after the previous one; the file ends at the first
aligned offset after the last), so a file has exactly one valid form.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "x.lidx")
>>> write_file(path, "Demo", {"n": 3}, {"keys": np.array([1, 5, 9], dtype=np.uint64)})
>>> loaded = read_file(path)
>>> loaded.header.type, loaded.header.meta, loaded.arrays["keys"].tolist(), os.path.getsize(path)
('Demo', {'n': 3}, [1, 5, 9], 320)
"""
from __future__ import annotations

import json
import math
import mmap as _mmap
import os
import re
import struct
import tempfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from .._memory import aligned_zeros
from .errors import FormatError

#: First 8 bytes of every file (PNG-style: a high byte, CR LF, ^Z and LF catch text-mode
#: transfers and truncation to 7 bits).
MAGIC = b"\x89LIX\r\n\x1a\n"
#: The one format version this code reads and writes.
VERSION = 1
#: Every section starts at a multiple of this (a cache line; page-aligned mmaps keep it).
ALIGN = 64
#: magic, version, flags, header length, file length, header CRC32, 24 reserved zero
#: bytes, CRC32 of the first 60 bytes: 64 bytes, little-endian.
PREAMBLE = struct.Struct("<8sIIQQI24xI")
#: Limits checked before anything is allocated for the header.
MAX_HEADER_BYTES = 1 << 20
MAX_JSON_VALUES = 1 << 16
MAX_SECTIONS = 1024
MAX_NDIM = 8
MAX_ITEMSIZE = 1 << 20
MAX_FIELDS = 256
MAX_DTYPE_DEPTH = 4
#: Sections up to this size are always checksummed on load (it costs nothing);
#: larger ones only with ``verify=True``.
SMALL_SECTION = 1 << 20
#: Bytes per write / per checksum update.
CHUNK = 16 << 20

_TOP_KEYS = frozenset({"type", "meta", "sections", "writer"})
_SECTION_KEYS = frozenset({"name", "dtype", "shape", "offset", "nbytes", "crc32"})
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}\Z")
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_CRC = re.compile(r"[0-9a-f]{8}\Z")
_SCALAR = re.compile(r"([<|])([biufcSV])([0-9]{1,7})\Z")
_SCALAR_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8), "c": (8, 16)}


def align(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`ALIGN`.

    >>> align(0), align(1), align(64), align(65)
    (0, 64, 64, 128)
    """
    return -(-n // ALIGN) * ALIGN


# ---------------------------------------------------------------------- dtypes

def dtype_spec(dt: np.dtype):
    """The JSON form of a fixed-size dtype (little-endian), or ``TypeError``.

    A plain dtype is its numpy string (``"<u8"``, ``"|S16"``); a structured one a dict of
    ``names``, ``formats``, ``offsets`` and ``itemsize``; a sub-array ``{"base", "shape"}``.
    Object, unicode, datetime and zero-size dtypes are refused.

    >>> dtype_spec(np.dtype([("a", "<i4"), ("b", "<f8")]))
    {'names': ['a', 'b'], 'formats': ['<i4', '<f8'], 'offsets': [0, 4], 'itemsize': 12}
    """
    dt = np.dtype(dt)
    if dt.hasobject:
        raise TypeError(f"dtype {dt} holds Python objects, which a file cannot store")
    if dt.itemsize == 0:
        raise TypeError(f"dtype {dt} has zero-size items, which a file cannot store")
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return {"base": dtype_spec(base), "shape": [int(s) for s in shape]}
    if dt.names is not None:
        for name in dt.names:
            if len(dt.fields[name]) > 2:
                raise TypeError(f"dtype {dt} has field titles, which a file does not store")
        return {"names": list(dt.names), "formats": [dtype_spec(dt.fields[n][0]) for n in dt.names],
                "offsets": [int(dt.fields[n][1]) for n in dt.names], "itemsize": int(dt.itemsize)}
    ok = dt.kind in "SV" and dt.itemsize >= 1 or dt.itemsize in _SCALAR_SIZES.get(dt.kind, ())
    if not ok:
        raise TypeError(f"dtype {dt} cannot be stored: use bool, int, uint, float or complex numbers, "
                        "fixed-width bytes (S/V) or structured dtypes of them")
    return dt.newbyteorder("<").str


def spec_dtype(spec, depth: int = 0) -> np.dtype:
    """Parse a dtype spec read from a file (strictly; ``FormatError`` on anything else).

    The spec must be exactly what :func:`dtype_spec` writes for the dtype it describes.

    >>> spec_dtype("<f8"), spec_dtype({"base": "<i2", "shape": [3]})
    (dtype('float64'), dtype(('<i2', (3,))))
    """
    if depth > MAX_DTYPE_DEPTH:
        raise FormatError(f"dtype nested deeper than {MAX_DTYPE_DEPTH} levels")
    if isinstance(spec, str):
        m = _SCALAR.match(spec)
        if not m:
            raise FormatError(f"unsupported dtype {spec[:40]!r}")
        kind, size = m.group(2), int(m.group(3))
        if kind in "SV":
            if not 1 <= size <= MAX_ITEMSIZE:
                raise FormatError(f"dtype {spec!r}: width must be 1..{MAX_ITEMSIZE}")
        elif size not in _SCALAR_SIZES[kind]:
            raise FormatError(f"unsupported dtype {spec!r}")
        dt = np.dtype(spec)
    elif isinstance(spec, dict) and set(spec) == {"base", "shape"}:
        base = spec_dtype(spec["base"], depth + 1)
        shape = _dims(spec["shape"], "sub-array shape", minimum=1)
        if not shape or math.prod(shape) * base.itemsize > MAX_ITEMSIZE:
            raise FormatError("sub-array dtype: empty or too large a shape")
        dt = np.dtype((base, tuple(shape)))
    elif isinstance(spec, dict) and set(spec) == {"names", "formats", "offsets", "itemsize"}:
        dt = _struct_dtype(spec, depth)
    else:
        raise FormatError(f"unsupported dtype description {str(spec)[:60]!r}")
    if dtype_spec(dt) != spec:              # one canonical spelling per dtype
        raise FormatError(f"dtype description {str(spec)[:60]!r} is not in canonical form")
    return dt


def _struct_dtype(spec: dict, depth: int) -> np.dtype:
    names, formats, offsets, itemsize = spec["names"], spec["formats"], spec["offsets"], spec["itemsize"]
    if not (isinstance(names, list) and isinstance(formats, list) and isinstance(offsets, list)):
        raise FormatError("structured dtype: names, formats and offsets must be lists")
    if not 1 <= len(names) <= MAX_FIELDS or not len(names) == len(formats) == len(offsets):
        raise FormatError(f"structured dtype: 1..{MAX_FIELDS} fields with one format and offset each")
    if not _is_int(itemsize) or not 1 <= itemsize <= MAX_ITEMSIZE:
        raise FormatError(f"structured dtype: itemsize must be 1..{MAX_ITEMSIZE}")
    if not all(isinstance(n, str) and 0 < len(n) <= 64 for n in names) or len(set(names)) != len(names):
        raise FormatError("structured dtype: field names must be distinct strings of 1..64 characters")
    bases = [spec_dtype(f, depth + 1) for f in formats]
    spans = []
    for name, base, off in zip(names, bases, offsets):
        if not _is_int(off) or off < 0 or off + base.itemsize > itemsize:
            raise FormatError(f"structured dtype: field {name!r} lies outside the {itemsize}-byte item")
        spans.append((off, off + base.itemsize))
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
        raise FormatError("structured dtype: fields overlap")
    try:
        return np.dtype({"names": names, "formats": bases, "offsets": offsets, "itemsize": itemsize})
    except (TypeError, ValueError) as exc:
        raise FormatError(f"structured dtype rejected by numpy: {exc}") from None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dims(shape, what: str, minimum: int = 0) -> list:
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        raise FormatError(f"{what} must be a list of at most {MAX_NDIM} ints")
    if not all(_is_int(d) and d >= minimum for d in shape):
        raise FormatError(f"{what} must hold ints >= {minimum}, got {str(shape)[:60]}")
    return shape


# ---------------------------------------------------------------------- header

@dataclass
class Section:
    """One section as the header declares it."""

    name: str
    dtype: np.dtype
    shape: tuple
    offset: int
    nbytes: int
    crc32: int


@dataclass
class Header:
    """The parsed, validated preamble and JSON header of a file."""

    type: str
    meta: dict
    writer: str
    sections: list
    header_bytes: int
    file_bytes: int
    data_start: int = field(init=False)

    def __post_init__(self):
        self.data_start = align(PREAMBLE.size + self.header_bytes)


def _check_json(v, where: str, depth: int = 0) -> None:
    """Refuse what JSON would change or reject: non-str keys, NaN, numpy scalars, objects."""
    if depth > 64:
        raise TypeError(f"{where} is nested too deeply to store")
    if v is None or isinstance(v, (bool, str, int)):
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise TypeError(f"{where} holds {v}, which JSON cannot store")
        return
    if isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            _check_json(x, f"{where}[{i}]", depth + 1)
        return
    if isinstance(v, dict):
        for k, x in v.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a non-str key {k!r}")
            _check_json(x, f"{where}[{k!r}]", depth + 1)
        return
    raise TypeError(f"{where} holds {type(v).__name__} {v!r}: only None, bool, int, float, str, lists "
                    "and dicts can be stored in the header")


def _encode_header(tag: str, meta: dict, sections: list, writer: str) -> bytes:
    doc = {"type": tag, "writer": writer, "meta": meta, "sections": [
        {"name": s.name, "dtype": dtype_spec(s.dtype), "shape": list(s.shape), "offset": s.offset,
         "nbytes": s.nbytes, "crc32": f"{s.crc32:08x}"} for s in sections]}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _preamble(header: bytes, file_bytes: int) -> bytes:
    body = PREAMBLE.pack(MAGIC, VERSION, 0, len(header), file_bytes, zlib.crc32(header), 0)
    return body[:60] + struct.pack("<I", zlib.crc32(body[:60]))


def _parse_json(raw: bytes):
    # Bound the number of JSON values (hence the objects parsing allocates) before parsing.
    if raw.count(b",") + raw.count(b"[") + raw.count(b"{") > MAX_JSON_VALUES:
        raise FormatError(f"header holds more than {MAX_JSON_VALUES} JSON values")

    def no_duplicates(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise FormatError(f"header repeats the key {k[:40]!r}")
            d[k] = v
        return d

    def no_constant(c):
        raise FormatError(f"header holds {c}, which JSON does not allow")

    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except FormatError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"header is not valid JSON: {str(exc)[:120]}") from None
    _check_text(doc)
    return doc


def _check_text(doc) -> None:
    """Refuse strings that are not Unicode text: a ``\\ud800`` escape decodes to a lone
    surrogate, which valid UTF-8 cannot hold and which fails when printed or encoded."""
    stack = [doc]
    while stack:                                   # iterative: the value count is bounded
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise FormatError(f"header holds a string that is not valid Unicode text "
                                  f"(a lone surrogate escape): {v[:40]!r}") from None


def parse_header(pre: bytes, read_header, file_bytes: int) -> Header:
    """Validate the 64-byte preamble ``pre``, read and validate the JSON header.

    ``read_header(n)`` returns the ``n`` header bytes following the preamble; it is
    called only once ``n`` is known to be within the limits and the file.
    """
    if file_bytes < PREAMBLE.size or len(pre) < PREAMBLE.size:
        raise FormatError(f"{file_bytes} bytes is too short for a learnedidx file (the preamble alone is 64)")
    magic, version, flags, hlen, flen, hcrc, pcrc = PREAMBLE.unpack(pre[:PREAMBLE.size])
    if magic != MAGIC:
        hint = " (it is a .npy file)" if magic.startswith(b"\x93NUMPY") else ""
        raise FormatError(f"not a learnedidx file: bad magic {magic!r}{hint}")
    if zlib.crc32(pre[:60]) != pcrc:
        raise FormatError("preamble checksum mismatch: the first 64 bytes are damaged")
    if version != VERSION:
        raise FormatError(f"format version {version} is not supported (this learnedidx reads version {VERSION})")
    if flags != 0:
        raise FormatError(f"unknown flags 0x{flags:08x} in the preamble")
    if pre[36:60] != bytes(24):
        raise FormatError("reserved preamble bytes 36..59 are not zero")
    if flen != file_bytes:
        what = "truncated" if file_bytes < flen else "has trailing bytes"
        raise FormatError(f"file {what}: the preamble says {flen:,} bytes, the file has {file_bytes:,}")
    if not 2 <= hlen <= MAX_HEADER_BYTES or PREAMBLE.size + hlen > file_bytes:
        raise FormatError(f"header length {hlen:,} is outside 2..{MAX_HEADER_BYTES:,} or past the end of the file")
    raw = read_header(hlen)
    if len(raw) != hlen:
        raise FormatError("file truncated inside the header")
    if zlib.crc32(raw) != hcrc:
        raise FormatError("header checksum mismatch: the JSON header is damaged")
    doc = _parse_json(raw)
    if not isinstance(doc, dict) or set(doc) != _TOP_KEYS:
        raise FormatError(f"header must be an object with exactly the keys {sorted(_TOP_KEYS)}")
    tag, meta, writer, secs = doc["type"], doc["meta"], doc["writer"], doc["sections"]
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise FormatError(f"bad type tag {str(tag)[:40]!r}")
    if not isinstance(meta, dict):
        raise FormatError("header meta must be an object")
    if not isinstance(writer, str) or len(writer) > 200:
        raise FormatError("header writer must be a string of at most 200 characters")
    if not isinstance(secs, list) or len(secs) > MAX_SECTIONS:
        raise FormatError(f"header sections must be a list of at most {MAX_SECTIONS}")
    header = Header(tag, meta, writer, [], hlen, file_bytes)
    end = header.data_start
    names = set()
    for i, s in enumerate(secs):
        sec = _parse_section(i, s, file_bytes)
        if sec.name in names:
            raise FormatError(f"section name {sec.name!r} appears twice")
        names.add(sec.name)
        if sec.offset != align(end):
            raise FormatError(f"section {sec.name!r} starts at {sec.offset:,}; the canonical layout puts it "
                              f"at {align(end):,}")
        end = sec.offset + sec.nbytes
        if end > file_bytes:
            raise FormatError(f"section {sec.name!r} ends at {end:,}, past the end of the file ({file_bytes:,})")
        header.sections.append(sec)
    if align(end) != file_bytes:
        raise FormatError(f"file length {file_bytes:,} does not end where the last section's padding ends "
                          f"({align(end):,})")
    return header


def _parse_section(i: int, s, file_bytes: int) -> Section:
    if not isinstance(s, dict) or set(s) != _SECTION_KEYS:
        raise FormatError(f"section {i} must be an object with exactly the keys {sorted(_SECTION_KEYS)}")
    name = s["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise FormatError(f"section {i} has a bad name {str(name)[:40]!r}")
    dt = spec_dtype(s["dtype"])
    if dt.subdtype is not None:                 # an array's dtype never is one: numpy moves it into the shape
        raise FormatError(f"section {name!r}: a sub-array dtype is only allowed inside a structured dtype "
                          "(the section's shape holds its dimensions)")
    shape = _dims(s["shape"], f"section {name!r} shape")
    nbytes, offset, crc = s["nbytes"], s["offset"], s["crc32"]
    if not (_is_int(nbytes) and _is_int(offset)) or nbytes < 0 or offset < 0:
        raise FormatError(f"section {name!r}: offset and nbytes must be ints >= 0")
    if math.prod(max(d, 1) for d in shape) * dt.itemsize > file_bytes:
        raise FormatError(f"section {name!r}: shape {shape} is larger than the file")
    if math.prod(shape) * dt.itemsize != nbytes:
        raise FormatError(f"section {name!r}: shape {shape} of {dt} needs {math.prod(shape) * dt.itemsize:,} "
                          f"bytes, the header says {nbytes:,}")
    if offset % ALIGN:
        raise FormatError(f"section {name!r}: offset {offset:,} is not a multiple of {ALIGN}")
    if not isinstance(crc, str) or not _CRC.match(crc):
        raise FormatError(f"section {name!r}: crc32 must be 8 lowercase hex digits")
    return Section(name, dt, tuple(shape), offset, nbytes, int(crc, 16))


# ---------------------------------------------------------------------- write

def _prepare(name, arr) -> tuple:
    """``(name, array)`` checked and in file byte order: C-contiguous, fixed-size, little-endian."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"bad section name {name!r}: 1..128 characters of A-Z a-z 0-9 _ . -")
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"section {name!r} must be a numpy array, got {type(arr).__name__}")
    if arr.ndim > MAX_NDIM:
        raise ValueError(f"section {name!r} has {arr.ndim} dimensions (at most {MAX_NDIM})")
    dtype_spec(arr.dtype)                       # TypeError for object and other dtypes
    little = arr.dtype.newbyteorder("<")
    if arr.dtype != little:                     # big-endian data: the file is little-endian
        arr = arr.astype(little)
    if not arr.flags.c_contiguous:
        raise ValueError(f"section {name!r} is not C-contiguous; the type's _state must pass contiguous arrays")
    return name, arr


def _bytes_of(arr: np.ndarray) -> memoryview:
    return memoryview(arr.reshape(-1).view(np.uint8))


def _write_section(f, name: str, arr: np.ndarray) -> int:
    """Write one section's bytes; return their CRC32 (tests patch this to fail mid-save)."""
    crc = 0
    with _bytes_of(arr) as mv:
        for i in range(0, len(mv), CHUNK):
            part = mv[i:i + CHUNK]
            crc = zlib.crc32(part, crc)
            f.write(part)
    return crc


def write_file(path, tag: str, meta: dict, arrays: dict, writer: str = "learnedidx") -> None:
    """Write one file atomically: a temporary file in the same directory, fsynced, renamed.

    An exception at any point leaves a previous file at ``path`` untouched and no
    temporary file behind.  A replaced file keeps its permission bits; a new one gets
    ``0o644``.  The data is written and checksummed in one pass: the header (whose size
    does not depend on the checksums, written as 8 hex digits) is written last.

    Runtime complexity: ``O(total bytes)``.
    """
    path = os.fspath(path)
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise ValueError(f"bad type tag {tag!r}")
    if not isinstance(meta, dict):
        raise TypeError("meta must be a dict")
    _check_json(meta, "meta")
    prepared = [_prepare(k, v) for k, v in arrays.items()]
    if len(prepared) > MAX_SECTIONS:
        raise ValueError(f"{len(prepared)} sections; at most {MAX_SECTIONS}")
    sections = [Section(n, a.dtype, a.shape, 0, a.nbytes, 0) for n, a in prepared]
    header = _layout(tag, meta, sections, writer)
    file_bytes = align(sections[-1].offset + sections[-1].nbytes) if sections else align(PREAMBLE.size + len(header))
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(PREAMBLE.size + len(header)))     # placeholder until the CRCs are known
            pos = PREAMBLE.size + len(header)
            for sec, (_, arr) in zip(sections, prepared):
                f.write(bytes(sec.offset - pos))
                sec.crc32 = _write_section(f, sec.name, arr)
                pos = sec.offset + sec.nbytes
            f.write(bytes(file_bytes - pos))
            final = _encode_header(tag, meta, sections, writer)
            assert len(final) == len(header), "header size changed with the checksums"
            f.seek(0)
            f.write(_preamble(final, file_bytes))
            f.write(final)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _layout(tag, meta, sections, writer) -> bytes:
    """Assign canonical offsets; return the header (CRC placeholders) whose size fixes them."""
    header = b""
    for _ in range(32):                           # offsets grow the header; converges in 2-3
        end = align(PREAMBLE.size + len(header))
        for sec in sections:
            sec.offset = align(end)
            end = sec.offset + sec.nbytes
        new = _encode_header(tag, meta, sections, writer)
        if len(new) == len(header):
            break
        header = new
    else:                                         # pragma: no cover - digits cannot grow forever
        raise RuntimeError("header layout did not converge")
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(f"header of {len(header):,} bytes exceeds {MAX_HEADER_BYTES:,}; keep meta small and "
                         "put large data in arrays")
    return header


def _fsync_dir(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- read

@dataclass
class LoadedFile:
    """A validated file: its header and one read-only array per section."""

    header: Header
    arrays: dict
    verified: list                                # names of the sections whose CRC was checked


def read_header(path) -> Header:
    """Validate the preamble and the header of ``path`` without touching the sections.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "h.lidx")
    >>> write_file(p, "Demo", {}, {"a": np.zeros(3, dtype=np.int32)})
    >>> [(s.name, s.dtype.str, s.shape, s.offset) for s in read_header(p).sections]
    [('a', '<i4', (3,), 256)]
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        return parse_header(f.read(PREAMBLE.size), f.read, size)


def read_file(path, mmap: bool = True, verify: bool | None = None) -> LoadedFile:
    """Validate ``path`` and return its sections, memory-mapped read-only or read into memory.

    ``verify=None`` means ``not mmap``.  The preamble, the header, the padding and every
    section up to :data:`SMALL_SECTION` bytes are always checked; ``verify=True`` also
    checksums the larger sections (which reads them: with ``mmap`` that pulls every
    page into memory).  Any defect raises :class:`FormatError`; ``OSError`` (a missing
    file) passes through.

    Runtime complexity: ``O(header + small sections)`` with ``mmap`` and no verify;
    ``O(file)`` otherwise.
    """
    if verify is None:
        verify = not mmap
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            header = parse_header(f.read(PREAMBLE.size), f.read, size)
            if mmap:
                return _map_sections(f, header, verify)
            return _read_sections(f, header, verify)
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from None


def _check_padding(chunk, where: str) -> None:
    if any(chunk):
        raise FormatError(f"padding {where} is not zero")


def _gaps(header: Header):
    """``(start, stop, where)`` of every padding run, in file order."""
    pos = PREAMBLE.size + header.header_bytes
    for sec in header.sections:
        yield pos, sec.offset, f"before section {sec.name!r}"
        pos = sec.offset + sec.nbytes
    yield pos, header.file_bytes, "at the end of the file"


def _checksum(mv, sec: Section) -> None:
    crc = 0
    for i in range(0, len(mv), CHUNK):
        crc = zlib.crc32(mv[i:i + CHUNK], crc)
    if crc != sec.crc32:
        raise FormatError(f"section {sec.name!r} checksum mismatch (CRC32 {crc:08x}, header says {sec.crc32:08x})")


def _map_sections(f, header: Header, verify: bool) -> LoadedFile:
    mm = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ)
    if len(mm) != header.file_bytes:              # the file changed under us
        raise FormatError("file size changed while opening it")
    for a, b, where in _gaps(header):
        _check_padding(mm[a:b], where)
    arrays, checked = {}, []
    with memoryview(mm) as whole:
        for sec in header.sections:
            if verify or sec.nbytes <= SMALL_SECTION:
                with whole[sec.offset:sec.offset + sec.nbytes] as mv:
                    _checksum(mv, sec)
                checked.append(sec.name)
            arrays[sec.name] = _view(mm, sec)
    return LoadedFile(header, arrays, checked)


def _view(buf, sec: Section) -> np.ndarray:
    count = sec.nbytes // sec.dtype.itemsize
    if count == 0:
        arr = np.empty(sec.shape, dtype=sec.dtype)
        arr.flags.writeable = False
        return arr
    return np.frombuffer(buf, dtype=sec.dtype, count=count, offset=sec.offset).reshape(sec.shape)


def _read_sections(f, header: Header, verify: bool) -> LoadedFile:
    arrays, checked = {}, []
    gaps = list(_gaps(header))
    for sec, (a, b, where) in zip(header.sections + [None], gaps):
        f.seek(a)
        _check_padding(f.read(b - a), where)
        if sec is None:
            break
        buf = aligned_zeros(sec.nbytes, np.uint8)
        with memoryview(buf) as mv:
            got = 0
            while got < sec.nbytes:
                k = f.readinto(mv[got:got + CHUNK])
                if not k:
                    raise FormatError(f"file truncated inside section {sec.name!r}")
                got += k
            if verify or sec.nbytes <= SMALL_SECTION:
                _checksum(mv, sec)
                checked.append(sec.name)
        arr = buf.view(sec.dtype).reshape(sec.shape) if sec.nbytes else np.empty(sec.shape, sec.dtype)
        arr.flags.writeable = False
        arrays[sec.name] = arr
    return LoadedFile(header, arrays, checked)
