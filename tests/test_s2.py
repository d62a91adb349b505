"""Tests of the vectorised S2 leaf cell id encoder (``learnedidx.bench.s2``).

Known values: every row of ``KNOWN`` was computed once with two independent reference
implementations, the Python port ``s2sphere`` 0.2.5 and Google's C++ library through
its ``s2geometry`` 0.14.0 bindings (``S2CellId(S2LatLng::FromDegrees(lat, lng))``); the
two agreed on every row.  The rows cover the face centres, the poles, face edges and
cube corners, both sides of the antimeridian, tiny coordinates around the origin, and
cities on every face.  When ``s2sphere`` is installed, one more test compares a few
thousand random points with it; without it that test is not collected.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from learnedidx.bench import s2

# (lat, lng, S2 leaf cell id), checked against s2sphere and the C++ library
KNOWN = [
    (0.0, 0.0, 0x1000000000000001),
    (49.703498679, 11.770681595, 0x47a1cbd595522b39),
    (90.0, 0.0, 0x5000000000000001),
    (-90.0, 0.0, 0xb000000000000001),
    (0.0, 90.0, 0x3000000000000001),
    (0.0, 180.0, 0x6fffffffffffffff),
    (0.0, -180.0, 0x7000000000000001),
    (0.0, -90.0, 0x9000000000000001),
    (45.0, 0.0, 0x12aaaaaaaaaaaaab),
    (-45.0, 0.0, 0x1d55555555555555),
    (0.0, 45.0, 0x17ffffffffffffff),
    (0.0, -45.0, 0x0800000000000001),
    (0.0, 135.0, 0x32aaaaaaaaaaaaab),
    (35.2643896827546, 45.0, 0x1555555555555555),
    (-35.2643896827546, -135.0, 0x9fffffffffffffff),
    (51.4778, -0.0015, 0x487602818cc8fc9d),
    (40.748817, -73.985428, 0x89c259a9a4524639),
    (-33.856784, 151.215297, 0x6b12ae66906dfdff),
    (35.689487, 139.691711, 0x60188cd4c86b963f),
    (-22.906847, -43.172897, 0x009981e067d811a7),
    (64.128288, -21.827774, 0x48d674823b00bc03),
    (-77.846323, 166.668235, 0xaf7739717c5dad83),
    (1.352083, 103.819836, 0x31da10cce69f4bd9),
    (-54.801912, -68.302951, 0xbc4c22dec32e4951),
    (78.223172, 15.626723, 0x459c532895555557),
    (19.432608, -99.133209, 0x85d1fecd47ed8e27),
    (30.04442, 31.235712, 0x145840c63cc84f3f),
    (-1.292066, 36.821946, 0x182f10dedc16d431),
    (55.755826, 37.6173, 0x46b54a5a87bed58b),
    (37.7749, -122.4194, 0x8085809e8e8d8c61),
    (-41.28664, 174.77557, 0x6d38afd5b61b60c7),
    (21.306944, -157.858333, 0x7c006e754988bd89),
    (71.290556, -156.788611, 0x50c2d8079814f0ed),
    (-89.99, 123.0, 0xaffffffb4395d62b),
    (89.99, -45.0, 0x4ffffffaffbfebff),
    (10.0, 179.999999, 0x652ad352d352ca1b),
    (10.0, -179.999999, 0x7ad52cad2cad35e5),
    (1e-09, 1e-09, 0x1000000000000001),
    (-1e-09, -1e-09, 0x0555555555555555),
    (60.0, -150.0, 0x56c70dadb49dd3b3),
    (-60.0, 30.0, 0xb6c70dadb49dd3b3),
    (23.5, -120.0, 0x816930f489c220d9),
    (-23.5, 60.0, 0x216930f489c220d9),
]
K_LAT = np.array([r[0] for r in KNOWN])
K_LNG = np.array([r[1] for r in KNOWN])
K_ID = np.array([r[2] for r in KNOWN], dtype=np.uint64)

#: The largest diagonal of a leaf cell, in radians (S2's quadratic projection:
#: 2.438654594434021 / 2**30); a point is within it of its cell's centre.
MAX_LEAF_DIAG = 2.438654594434021 / 2 ** 30

lats = st.floats(-90.0, 90.0, allow_nan=False)
lngs = st.floats(-540.0, 540.0, allow_nan=False)


def angle_between(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Angle in radians between two (arrays of) points, accurate for tiny angles."""
    lat1, lng1, lat2, lng2 = np.broadcast_arrays(*(np.atleast_1d(c) for c in (lat1, lng1, lat2, lng2)))
    a = np.stack(s2.latlng_to_xyz(lat1, lng1))
    b = np.stack(s2.latlng_to_xyz(lat2, lng2))
    return np.arctan2(np.linalg.norm(np.cross(a, b, axis=0), axis=0), np.sum(a * b, axis=0))


def random_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform on the sphere."""
    rng = np.random.default_rng(seed)
    return np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n))), rng.uniform(-180.0, 180.0, n)


# ----------------------------------------------------------------------- known values


@pytest.mark.parametrize("lat,lng,expected", KNOWN, ids=[f"{r[0]},{r[1]}" for r in KNOWN])
def test_known_cell_ids_one_at_a_time(lat, lng, expected):
    got = s2.latlng_to_cell_id(lat, lng)
    assert got.dtype == np.uint64 and got.shape == (1,)
    assert int(got[0]) == expected, f"{int(got[0]):#018x} != {expected:#018x}"


def test_known_cell_ids_vectorised_and_ordered():
    got = s2.latlng_to_cell_id(K_LAT, K_LNG)
    np.testing.assert_array_equal(got, K_ID)
    np.testing.assert_array_equal(np.argsort(got, kind="stable"), np.argsort(K_ID, kind="stable"))


def test_published_values():
    # S2's own examples: the centre of face 0, and the point of s2geometry's cell id tests
    assert int(s2.latlng_to_cell_id(0.0, 0.0)[0]) == 0x1000000000000001
    assert int(s2.latlng_to_cell_id(49.703498679, 11.770681595)[0]) == 0x47A1CBD595522B39


def test_known_faces():
    np.testing.assert_array_equal(s2.cell_id_to_face(K_ID), (K_ID >> np.uint64(61)).astype(np.uint8))
    assert s2.cell_id_to_face(s2.latlng_to_cell_id([0, 0, 90, 0, 0, -90], [0, 90, 0, 180, -90, 0])).tolist() \
        == [0, 1, 2, 3, 4, 5]


def test_known_round_trip():
    lat, lng = s2.cell_id_to_latlng(K_ID)
    assert np.all(angle_between(lat, lng, K_LAT, K_LNG) <= MAX_LEAF_DIAG)
    np.testing.assert_array_equal(s2.latlng_to_cell_id(lat, lng), K_ID)


# ------------------------------------------------------------------------- properties


@given(st.lists(st.tuples(lats, lngs), min_size=1, max_size=50))
def test_ids_are_odd_leaves_on_valid_faces(points):
    lat, lng = np.array(points).T
    ids = s2.latlng_to_cell_id(lat, lng)
    assert ids.dtype == np.uint64 and ids.shape == lat.shape
    assert np.all(ids & np.uint64(1) == 1)  # leaf level: the marker bit is the lowest
    assert np.all(s2.cell_id_to_face(ids) <= 5)


@given(lats, lngs)
def test_face_is_the_dominant_axis(lat, lng):
    x, y, z = (float(c) for c in s2.latlng_to_xyz(lat, lng))
    coords = [x, y, z]
    face = int(s2.cell_id_to_face(s2.latlng_to_cell_id(lat, lng))[0])
    axis = face % 3
    assert abs(coords[axis]) == max(map(abs, coords))
    assert (coords[axis] < 0) == (face >= 3)


@given(lats, lngs)
def test_round_trip_through_the_cell_centre(lat, lng):
    cid = s2.latlng_to_cell_id(lat, lng)
    clat, clng = s2.cell_id_to_latlng(cid)
    assert angle_between(lat, lng, clat, clng)[0] <= MAX_LEAF_DIAG
    assert s2.latlng_to_cell_id(clat, clng)[0] == cid[0]


@given(st.integers(0, 5), st.integers(0, 2 ** 30 - 1), st.integers(0, 2 ** 30 - 1))
def test_table_encoder_matches_bitwise_definition(face, i, j):
    cid = int(s2.face_ij_to_cell_id(face, i, j))
    pos, _ = s2.hilbert_pos_bitwise(i, j, face & 1, 30)
    assert cid == (face << 61) | (int(pos) << 1) | 1
    assert [int(a) for a in s2.cell_id_to_face_ij(cid)] == [face, i, j]


@given(st.integers(0, 5), st.integers(0, 2 ** 60 - 2))
def test_hilbert_curve_steps_to_a_neighbour(face, pos):
    # consecutive positions on the curve are edge-adjacent leaf cells
    ids = np.array([(face << 61) | (p << 1) | 1 for p in (pos, pos + 1)], dtype=np.uint64)
    f, i, j = s2.cell_id_to_face_ij(ids)
    assert f.tolist() == [face, face]
    assert abs(int(i[1]) - int(i[0])) + abs(int(j[1]) - int(j[0])) == 1


def test_small_grid_is_a_hilbert_curve():
    # every cell of an 8x8 grid is visited once, each step to a neighbour
    for orientation in range(4):
        i, j = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
        pos, _ = s2.hilbert_pos_bitwise(i.ravel(), j.ravel(), orientation, 3)
        assert sorted(pos.tolist()) == list(range(64))
        order = np.argsort(pos)
        steps = np.abs(np.diff(i.ravel()[order])) + np.abs(np.diff(j.ravel()[order]))
        assert np.all(steps == 1)


def test_nearby_points_share_long_prefixes():
    lat, lng = random_points(4000, seed=7)
    rng = np.random.default_rng(8)
    # ~1 m away (1e-5 degrees of latitude is 1.1 m)
    lat2 = np.clip(lat + rng.uniform(-1e-5, 1e-5, lat.size), -90, 90)
    lng2 = lng + rng.uniform(-1e-5, 1e-5, lat.size)
    a, b = s2.latlng_to_cell_id(lat, lng), s2.latlng_to_cell_id(lat2, lng2)
    common = np.array([64 - int(x).bit_length() for x in a ^ b])
    # a level-15 cell is ~300 m across: two points 1 m apart straddle a border rarely
    assert np.mean(common >= 3 + 2 * 15) > 0.98
    assert np.mean(s2.cell_id_parent(a, 15) == s2.cell_id_parent(b, 15)) > 0.98
    # while independent random points almost never share even a level-5 cell
    c = s2.latlng_to_cell_id(*random_points(4000, seed=9))
    assert np.mean(s2.cell_id_parent(a, 5) == s2.cell_id_parent(c, 5)) < 0.01


def test_sorted_ids_follow_space():
    # Hilbert locality: in id order, consecutive points are near neighbours. n points
    # uniform on the sphere are ~sqrt(4 pi / n) = 0.025 rad apart; in random order,
    # consecutive points are a median 1.57 rad apart.
    lat, lng = random_points(20000, seed=11)
    ids = np.sort(s2.latlng_to_cell_id(lat, lng))
    clat, clng = s2.cell_id_to_latlng(ids)
    steps = angle_between(clat[:-1], clng[:-1], clat[1:], clng[1:])
    assert np.median(steps) < 0.1


@given(st.lists(st.tuples(lats, lngs), min_size=1, max_size=20), st.integers(0, 30))
def test_parent_contains_its_leaves(points, level):
    lat, lng = np.array(points).T
    ids = s2.latlng_to_cell_id(lat, lng)
    parents = s2.cell_id_parent(ids, level)
    lsb = np.uint64(1 << (2 * (30 - level)))
    assert np.all(parents & (lsb | (lsb - np.uint64(1))) == lsb)
    assert np.all((parents - (lsb - np.uint64(1)) <= ids) & (ids <= parents + (lsb - np.uint64(1))))
    assert np.all(s2.cell_id_to_face(parents) == s2.cell_id_to_face(ids))
    np.testing.assert_array_equal(s2.cell_id_parent(ids, 30), ids)


# ------------------------------------------------------------------------------ API


def test_shapes_and_broadcasting():
    assert s2.latlng_to_cell_id([], []).shape == (0,)
    assert s2.latlng_to_cell_id(np.zeros((2, 3)), 0.0).shape == (2, 3)
    got = s2.latlng_to_cell_id(np.float32(49.703498679), np.float32(11.770681595))
    want = s2.latlng_to_cell_id(float(np.float32(49.703498679)), float(np.float32(11.770681595)))
    np.testing.assert_array_equal(got, want)


def test_blocks_agree_with_one_shot(monkeypatch):
    lat, lng = random_points(1000, seed=3)
    whole = s2.latlng_to_cell_id(lat, lng)
    monkeypatch.setattr(s2, "_BLOCK", 7)
    np.testing.assert_array_equal(s2.latlng_to_cell_id(lat, lng), whole)


@pytest.mark.parametrize("lat,lng", [(np.nan, 0.0), (0.0, np.inf), (90.5, 0.0), (-91.0, 0.0)])
def test_bad_coordinates_raise(lat, lng):
    with pytest.raises(ValueError):
        s2.latlng_to_cell_id(lat, lng)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        s2.face_ij_to_cell_id(6, 0, 0)
    with pytest.raises(ValueError):
        s2.face_ij_to_cell_id(0, 2 ** 30, 0)
    with pytest.raises(ValueError):
        s2.cell_id_parent(K_ID, 31)
    with pytest.raises(TypeError):
        s2.cell_id_to_face(np.array([1.0]))


def test_uv_st_inverse():
    u = np.linspace(-1.0, 1.0, 1001)
    np.testing.assert_allclose(s2.st_to_uv(s2.uv_to_st(u)), u, rtol=0, atol=1e-15)


# ----------------------------------------------- optional: the s2sphere reference

if importlib.util.find_spec("s2sphere") is not None:

    def test_agrees_with_s2sphere_on_random_points():
        import s2sphere

        lat, lng = random_points(3000, seed=2024)
        ids = s2.latlng_to_cell_id(lat, lng)
        ref = np.array([s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(a, b)).id()
                        for a, b in zip(lat.tolist(), lng.tolist())], dtype=np.uint64)
        np.testing.assert_array_equal(ids, ref)
        np.testing.assert_array_equal(np.argsort(ids), np.argsort(ref))
