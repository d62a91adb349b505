"""``save`` and ``load``: objects to files and back, through their ``_state`` protocol.

A savable type implements ``_state() -> (meta, arrays)`` and the classmethod
``_from_state(meta, arrays)`` (see ``docs/FORMAT.md``); this module only pairs that
with the file format and the type registry.
"""
from __future__ import annotations

import os

import numpy as np

from . import format as fmt
from .errors import FormatError
from .registry import resolve, tag_of


def save(obj, path) -> None:
    """Write ``obj`` (an RMI, a B-tree, a KeyValueIndex, a sorted container) to ``path``.

    The write is atomic: a temporary file in the same directory, fsynced, then renamed
    over ``path``; an exception or a crash mid-save leaves the previous file intact.
    The keys and other arrays are written as they are (no copy on little-endian hosts).

    Runtime complexity: ``O(file size)``, one pass over the data.

    >>> import os, tempfile, numpy as np, learnedidx
    >>> path = os.path.join(tempfile.mkdtemp(), "idx.lidx")
    >>> learnedidx.save(learnedidx.RMI(np.arange(0, 100, 5)), path)
    >>> learnedidx.load(path).searchsorted(42)
    9
    """
    from .. import __version__
    tag = tag_of(obj)
    meta, arrays = obj._state()
    fmt.write_file(path, tag, meta, arrays, writer=f"learnedidx {__version__}")


def load(path, mmap: bool = True, verify: bool | None = None):
    """Open a file written by :func:`save`; every file is treated as untrusted.

    ``mmap=True`` maps the sections read-only (opening costs about the header and the
    model, not the keys: pages load on first use); ``mmap=False`` reads them into
    memory.  ``verify`` checksums the large sections too (default: ``not mmap``); the
    preamble, the header, the padding and sections up to 1 MiB are always checked.
    Any defect raises :class:`FormatError` (a ``ValueError``) saying what is wrong;
    a missing or unreadable file raises ``OSError``.  Nothing is unpickled or evaluated.
    The sections whose checksums are verified also get their content checked (sorted,
    NaN-free keys and the like, see :func:`check_contents`); a large section that was not
    (``mmap`` without ``verify``) is trusted: a forged one cannot make a lookup crash or
    read out of bounds, but can make it answer wrongly.

    A memory-mapped index stays valid while the file is replaced (``save`` renames a new
    file over it); truncating the file in place under a live map is not supported.

    Runtime complexity: ``O(header + model)`` with ``mmap`` and no ``verify``, else ``O(file)``.
    """
    loaded = fmt.read_file(path, mmap=mmap, verify=verify)
    return build(loaded, os.fspath(path))


def build(loaded: fmt.LoadedFile, where: str = "file"):
    """The object a validated file describes: its class's ``_from_state``, errors as ``FormatError``."""
    tag = loaded.header.type
    try:
        cls = resolve(tag)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    try:
        obj = cls._from_state(loaded.header.meta, loaded.arrays)
    except FormatError:
        raise
    except Exception as exc:            # any rejection of untrusted state is a format error
        raise FormatError(f"{where}: the {tag} state in this file is inconsistent: "
                          f"{type(exc).__name__}: {exc}") from exc
    try:
        check_contents(tag, loaded.header.meta, loaded.arrays, loaded.verified, obj)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    return obj


#: Keys of these types are unique (as are a KeyValueIndex's built with duplicates="error").
_UNIQUE_KEYS = ("SortedSet", "SortedDict")
#: Elements compared per step of the content checks (bounds their temporaries).
_CHECK_CHUNK = 1 << 20


def check_contents(tag: str, meta: dict, arrays: dict, verified, obj=None) -> None:
    """``FormatError`` unless the verified sections hold what lookups rely on.

    ``_from_state`` checks sizes, dtypes and every index a lookup computes (so no state
    reads out of bounds) in ``O(model)``; this checks the content of the big sections,
    in ``O(n)``, for the sections in ``verified`` (those whose checksum was checked):
    keys sorted and NaN-free (strictly increasing for a SortedSet, a SortedDict and a
    KeyValueIndex built with ``duplicates="error"``), bytes-value offsets non-decreasing,
    and a B-tree's separators equal to the last key of each page.  A section that was
    not verified (a large one on a mapped open without ``verify``) is trusted as it is.

    >>> import numpy as np
    >>> check_contents("RMI", {}, {"keys": np.array([1, 3, 2])}, ["keys"])
    Traceback (most recent call last):
    ...
    learnedidx.storage.errors.FormatError: section 'keys' is not sorted: position 2 holds 2 after 3
    """
    for name in verified:
        arr = arrays.get(name)
        if not isinstance(arr, np.ndarray) or arr.ndim != 1:
            continue
        if (name == "keys" or name.endswith(".keys")) and arr.dtype.kind in "iuf":
            unique = tag in _UNIQUE_KEYS or tag == "KeyValueIndex" and meta.get("duplicates") == "error"
            _check_sorted(name, arr, unique)
        elif name == "values.offsets" and arr.dtype.kind == "u":
            _check_sorted(name, arr, False)
    if tag == "BTree" and obj is not None and {"keys", "inner"} <= set(verified):
        try:
            obj._check()                      # separators against the pages' last keys: O(n / page_keys)
        except AssertionError as exc:
            raise FormatError(f"the B-tree's inner nodes do not match its keys: {exc}") from None


def _check_sorted(name: str, arr: np.ndarray, strict: bool) -> None:
    for start in range(0, arr.size, _CHECK_CHUNK):
        part = arr[start:start + _CHECK_CHUNK + 1]          # one element of overlap between steps
        if part.dtype.kind == "f":
            nan = np.isnan(part)
            if nan.any():
                raise FormatError(f"section {name!r} holds NaN at position {start + int(np.argmax(nan))}")
        bad = part[1:] <= part[:-1] if strict else part[1:] < part[:-1]
        if bad.any():
            i = int(np.argmax(bad))
            what = f"repeats the key {part[i + 1]} at position {start + i + 1} (its keys are unique)" \
                if part[i + 1] == part[i] else f"is not sorted: position {start + i + 1} holds {part[i + 1]} " \
                                               f"after {part[i]}"
            raise FormatError(f"section {name!r} {what}")


def info(path, verify: bool = True) -> dict:
    """Header, sizes and section table of a file (every checksum verified by default).

    >>> import os, tempfile, numpy as np, learnedidx
    >>> path = os.path.join(tempfile.mkdtemp(), "idx.lidx")
    >>> learnedidx.save(learnedidx.RMI(np.arange(10, dtype=np.uint64)), path)
    >>> d = info(path)
    >>> d["type"], d["sections"][0]["name"], d["verified"]
    ('RMI', 'keys', True)
    """
    loaded = fmt.read_file(path, mmap=True, verify=verify)
    h = loaded.header
    return {"path": os.fspath(path), "type": h.type, "format_version": fmt.VERSION, "writer": h.writer,
            "file_bytes": h.file_bytes, "header_bytes": h.header_bytes, "data_start": h.data_start,
            "meta": h.meta, "verified": len(loaded.verified) == len(h.sections),
            "sections": [{"name": s.name, "dtype": str(s.dtype), "shape": list(s.shape), "offset": s.offset,
                          "nbytes": s.nbytes, "crc32": f"{s.crc32:08x}"} for s in h.sections]}
