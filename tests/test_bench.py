"""The benchmark harness: datasets, files, workloads, the runner's checking, the CLI."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from learnedidx import cli
from learnedidx.bench import datasets, runner, workloads


@pytest.mark.parametrize("name", sorted(datasets.SYNTHETIC))
def test_synthetic_is_seeded_sorted_and_sized(name):
    a = datasets.generate(name, 5000, seed=7)
    b = datasets.generate(name, 5000, seed=7)
    c = datasets.generate(name, 5000, seed=8)
    assert a.dtype == np.uint64 and a.size == 5000
    assert np.all(a[1:] >= a[:-1])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert datasets.generate(name, 0).size == 0


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        datasets.generate("nope", 10)
    with pytest.raises(ValueError, match="not a file and not one of"):
        datasets.load("no_such_dataset_or_file")


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_sosd_round_trip(tmp_path, dtype):
    keys = np.sort(np.random.default_rng(1).integers(0, np.iinfo(dtype).max, 1000, dtype=dtype))
    path = str(tmp_path / f"keys_{np.dtype(dtype).name}")
    datasets.save_sosd(keys, path)
    assert os.path.getsize(path) == 8 + keys.nbytes
    for mmap in (True, False):
        back = datasets.load_sosd(path, mmap=mmap)
        assert back.dtype == dtype
        np.testing.assert_array_equal(back, keys)
    loaded, info = datasets.load(path)
    np.testing.assert_array_equal(loaded, keys)
    assert info["source"] == "file" and info["n"] == 1000


def test_sosd_validation(tmp_path):
    keys = np.arange(10, dtype=np.uint64)
    path = str(tmp_path / "k_uint64")
    datasets.save_sosd(keys, path)
    with open(path, "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="header says 10"):
        datasets.load_sosd(path)
    bare = str(tmp_path / "keys.bin")
    datasets.save_sosd(keys, bare)
    with pytest.raises(ValueError, match="no _uint32/_uint64 suffix"):
        datasets.load_sosd(bare)
    assert datasets.load_sosd(bare, dtype="uint64").size == 10
    with pytest.raises(ValueError, match="header says"):
        datasets.load_sosd(bare, dtype="uint32")
    tiny = tmp_path / "t_uint64"
    tiny.write_bytes(b"abc")
    with pytest.raises(ValueError, match="too short"):
        datasets.load_sosd(str(tiny))
    with pytest.raises(ValueError, match="uint32 or uint64"):
        datasets.save_sosd(np.arange(3, dtype=np.int64), str(tmp_path / "x"))


def test_npy_files(tmp_path):
    keys = np.arange(100, dtype=np.int64)
    np.save(tmp_path / "k.npy", keys)
    np.testing.assert_array_equal(datasets.load_npy(str(tmp_path / "k.npy")), keys)
    np.save(tmp_path / "bad.npy", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="1-D"):
        datasets.load_npy(str(tmp_path / "bad.npy"))
    np.save(tmp_path / "obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        datasets.load_npy(str(tmp_path / "obj.npy"))


def test_load_samples_down_and_refuses_larger_n(tmp_path):
    keys = np.arange(0, 3000, 3, dtype=np.uint64)
    path = str(tmp_path / "k_uint64")
    datasets.save_sosd(keys, path)
    sub, info = datasets.load(path, n=100, seed=3)
    assert sub.size == 100 and np.all(np.isin(sub, keys)) and np.all(sub[1:] > sub[:-1])
    with pytest.raises(ValueError, match="larger than the dataset"):
        datasets.load(path, n=5000)


@pytest.mark.parametrize("kind", workloads.KINDS)
@pytest.mark.parametrize("order", workloads.ORDERS)
@pytest.mark.parametrize("dtype", [np.uint64, np.int32, np.float64])
def test_workloads_expected_answers(kind, order, dtype):
    rng = np.random.default_rng(5)
    if np.dtype(dtype).kind == "f":
        keys = np.sort(rng.normal(0, 100, 3000)).astype(dtype)
    else:
        keys = np.sort(rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, 3000, dtype=dtype))
    wl = workloads.make(keys, kind, 2000, seed=9, order=order)
    assert wl.queries.dtype == keys.dtype and wl.queries.size == 2000
    if order == "sorted":
        assert np.all(wl.queries[1:] >= wl.queries[:-1])
    if kind == "absent":
        assert not np.isin(wl.queries, keys).any()
    if kind == "present":
        assert np.isin(wl.queries, keys).all()
    if kind == "range":
        counts = np.searchsorted(keys, wl.upper) - np.searchsorted(keys, wl.queries)
        np.testing.assert_array_equal(wl.expected, counts)
        assert wl.expected.mean() > 10
    else:
        np.testing.assert_array_equal(wl.expected, np.searchsorted(keys, wl.queries))


def test_workload_errors():
    keys = np.arange(10, dtype=np.uint8).astype(np.uint32)
    with pytest.raises(ValueError, match="choose one of"):
        workloads.make(keys, "nope", 5)
    with pytest.raises(ValueError, match="choose one of"):
        workloads.make(keys, "present", 5, order="backwards")
    full = np.arange(np.iinfo(np.int32).min, np.iinfo(np.int32).min + 1, dtype=np.int32)
    assert workloads.make(full, "absent", 3).queries.size == 3     # just outside the range


def test_parse_spec():
    assert runner.parse_spec("BTree:node_bytes=128,page_keys=32") == ("BTree", {"node_bytes": 128, "page_keys": 32})
    assert runner.parse_spec("RMI") == ("RMI", {})
    assert runner.parse_spec("RMI:root_params.bits=14,leaves=13500") == \
        ("RMI", {"root_params": {"bits": 14}, "leaves": 13500})
    assert runner.parse_spec("RMI: root_params . bits = 14") == ("RMI", {"root_params": {"bits": 14}})
    for bad in ("RMI:root_params.=3", "RMI:root_params=1,root_params.bits=2", "RMI:root_params.bits=2,root_params=1",
                "RMI:root_params.a.b=1", "RMI:leaves.x=1", "RMI:root_params.bits=1,root_params.bits=2",
                "RMI:leaves=1,leaves=2"):
        with pytest.raises(runner.SpecError):
            runner.parse_spec(bad)
    spec = "RMI:root_params.bits=14,leaves=13500"
    assert runner.label(*runner.parse_spec(spec)) == "RMI(root_params.bits=14,leaves=13500)"
    with pytest.raises(runner.SpecError):
        runner.parse_spec("RMI:leaves")


def test_runner_checks_every_answer(monkeypatch):
    keys = datasets.generate("lognormal", 20_000, seed=1)
    info = {"dataset": "lognormal", "seed": 1}
    wl = workloads.make(keys, "mixed", 2000, seed=2)
    rows = runner.run(keys, info, ["RMI", "BTree:page_keys=16", "BinarySearch"], wl, 500, 2, log=lambda m: None)
    assert {r["index"] for r in rows} == {"RMI", "BTree(page_keys=16)", "BinarySearch"}
    assert all(r["checked"] and r["ns"]["min"] <= r["ns"]["median"] <= r["ns"]["max"] for r in rows)
    from learnedidx import RMI
    monkeypatch.setattr(RMI, "_searchsorted", lambda self, v, side="left", threads=1: np.zeros(np.shape(v), np.int64))
    with pytest.raises(runner.MismatchError, match="wrong answer"):
        runner.run(keys, info, ["RMI"], wl, 500, 1, modes=("batch",), log=lambda m: None)


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_bench_json_and_plots(tmp_path, capsys):
    js = tmp_path / "r.json"
    code, out, err = _cli(capsys, "bench", "--dataset", "uniform", "--n", "20000", "--queries", "3000",
                          "--scalar-queries", "500", "--repeats", "2", "--index", "RMI", "--index", "BTree",
                          "--workload", "present", "--workload", "range", "--json", str(js),
                          "--plot", str(tmp_path / "plots"), "--quiet")
    assert code == 0, err
    assert "RMI" in out and "BTree" in out
    data = json.loads(js.read_text())
    assert data["seed"] == 42 and data["datasets"][0]["n"] == 20000 and data["machine"]["numpy"]
    assert all(r["checked"] is True for r in data["rows"])
    assert {r["workload"] for r in data["rows"]} == {"present/random", "range/random"}
    pngs = sorted(os.listdir(tmp_path / "plots"))
    assert pngs == ["uniform_cdf_fit.png", "uniform_pareto.png"]
    assert all(os.path.getsize(tmp_path / "plots" / p) > 10_000 for p in pngs)


@pytest.mark.parametrize("argv, message", [
    (["bench", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["bench", "--index", "Nope", "--n", "1000"], "unknown index 'Nope'"),
    (["bench", "--index", "RMI:leafs=3", "--n", "1000"], "unexpected keyword argument 'leafs'"),
    (["bench", "--index", "RMI:leaves", "--n", "1000"], "write NAME:param=value"),
    (["bench", "--n", "0"], "--n must be at least 1"),
    (["datasets", "--export", "nope", "/tmp/x"], "unknown dataset"),
])
def test_cli_user_errors_are_one_line(capsys, argv, message):
    code, out, err = _cli(capsys, *argv, *([] if argv[0] == "datasets" else ["--quiet"]))
    assert code == cli.EXIT_USAGE
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_bad_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "keys_uint64"
    bad.write_bytes(b"\x05" + b"\x00" * 7 + b"\x01\x02")
    code, out, err = _cli(capsys, "bench", "--dataset", str(bad), "--quiet")
    assert code == cli.EXIT_USAGE and "header says 5" in err and err.count("\n") == 1


def test_cli_datasets_list_and_export(tmp_path, capsys):
    code, out, _ = _cli(capsys, "datasets")
    assert code == 0
    for name in list(datasets.SYNTHETIC) + ["gshhg_s2", "timezones_s2", "gaia_ids"]:
        assert name in out
    assert "LGPL" in out and "ODbL" in out and "CC-BY-SA" in out
    path = tmp_path / "zipf_uint64"
    code, out, _ = _cli(capsys, "datasets", "--export", "zipf", str(path), "--n", "1000")
    assert code == 0
    np.testing.assert_array_equal(datasets.load_sosd(str(path)), datasets.generate("zipf", 1000, 42))
