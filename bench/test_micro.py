"""pytest-benchmark cases for the lookup hot paths.

Run timed with ``python -m pytest bench/ --benchmark-enable --benchmark-only``; the
default test run (``--benchmark-disable`` in pyproject) calls each case once, so they
stay working.  Every case checks its answers.
"""
from __future__ import annotations

import numpy as np
import pytest

from learnedidx import RMI
from learnedidx.baselines import BTree, InterleavedBinarySearch
from learnedidx.bench import datasets

N, M = 1_000_000, 100_000


@pytest.fixture(scope="module")
def data():
    keys = datasets.generate("lognormal", N, seed=3)
    q = keys[np.random.default_rng(4).integers(0, N, M)]
    return keys, q, np.searchsorted(keys, q)


@pytest.mark.parametrize("cls", [RMI, BTree, InterleavedBinarySearch], ids=lambda c: c.name)
def test_batch_lookup(benchmark, data, cls):
    keys, q, expected = data
    idx = cls(keys)
    got = benchmark(idx.searchsorted, q)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("cls", [RMI, BTree], ids=lambda c: c.name)
def test_scalar_lookup(benchmark, data, cls):
    keys, q, expected = data
    idx = cls(keys)
    qs = q[:10_000].tolist()
    fn = idx.searchsorted
    got = benchmark(lambda: [fn(x) for x in qs])
    assert got == expected[:10_000].tolist()


def test_rmi_build(benchmark, data):
    keys, _, _ = data
    idx = benchmark.pedantic(RMI, args=(keys,), rounds=3, iterations=1)
    idx._check()
