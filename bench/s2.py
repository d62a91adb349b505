"""Vectorised S2 cell ids for numpy arrays of latitudes and longitudes.

An S2 cell id (Google's S2 geometry library) names a cell of a hierarchical
subdivision of the sphere: the sphere is projected onto the six faces of a cube,
each face is cut into a ``2**30 x 2**30`` grid of *leaf* cells (about 1 cm across),
and the leaves of a face are numbered along a Hilbert curve, so that ids which are
close tend to be places which are close.  A leaf cell id (level 30) is a uint64::

    bits 63..61   face (0..5)
    bits 60..1    position along the face's Hilbert curve (30 two-bit digits)
    bit 0         1 (the marker bit: every leaf id is odd)

The pipeline, every step vectorised over whole arrays:

1. (lat, lng) in degrees -> a unit vector (x, y, z);
2. the face is the axis of the largest absolute coordinate (+x, +y, +z, -x, -y, -z
   are faces 0..5; ties go to the later axis, as in S2), and (u, v) in [-1, 1] are
   the other two coordinates divided by the dominant one;
3. (u, v) -> (s, t) in [0, 1] with S2's quadratic projection, which evens out the
   cell areas over a face;
4. (s, t) -> integers (i, j) in ``[0, 2**30)`` by ``floor(2**30 * s)`` clamped to
   the range (as S2's Go port and the Python port ``s2sphere`` do; the C++ library
   rounds ``2**30 * s - 0.5`` to even, which differs only when ``2**30 * s`` is an
   exact odd integer);
5. (i, j) -> position on the Hilbert curve, five bits of i and j at a time through a
   4096-entry table (built once from the bit-by-bit definition in
   :func:`hilbert_pos_bitwise`), the curve's orientation carried from chunk to chunk;
6. ``id = face << 61 | pos << 1 | 1``.

:func:`cell_id_to_latlng` inverts it (to the centre of the leaf cell), and
:func:`cell_id_to_face` / :func:`cell_id_to_face_ij` / :func:`cell_id_parent` take
ids apart.

>>> hex(int(latlng_to_cell_id(0.0, 0.0)[0]))
'0x1000000000000001'
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_LEVEL",
    "cell_id_parent",
    "cell_id_to_face",
    "cell_id_to_face_ij",
    "cell_id_to_latlng",
    "face_ij_to_cell_id",
    "hilbert_pos_bitwise",
    "latlng_to_cell_id",
    "latlng_to_xyz",
    "st_to_uv",
    "uv_to_st",
    "xyz_to_face_uv",
]

#: The leaf level: a face is a ``2**MAX_LEVEL`` square grid of leaf cells.
MAX_LEVEL = 30
#: Bits of the Hilbert position plus the marker bit below the face bits.
_POS_BITS = 2 * MAX_LEVEL + 1
_LIMIT_IJ = 1 << MAX_LEVEL

# Hilbert curve orientation: bit 0 swaps the i and j axes, bit 1 inverts both.
_SWAP = 1
_INVERT = 2
#: ``_IJ_TO_POS[orientation][2*i_bit + j_bit]`` is the curve digit (0..3) of that
#: quadrant in a cell of that orientation.
_IJ_TO_POS = np.array([[0, 1, 3, 2],   # canonical: (0,0) (0,1) (1,1) (1,0)
                       [0, 3, 1, 2],   # axes swapped
                       [2, 3, 1, 0],   # both axes inverted
                       [2, 1, 3, 0]],  # swapped and inverted
                      dtype=np.int64)
#: The inverse permutation: ``_POS_TO_IJ[orientation][digit]`` is ``2*i_bit + j_bit``.
_POS_TO_IJ = np.argsort(_IJ_TO_POS, axis=1).astype(np.int64)
#: How the orientation changes when the curve descends into the quadrant of a digit:
#: the first sub-square is swapped, the middle two keep it, the last is swapped and
#: inverted.
_POS_TO_ORIENTATION = np.array([_SWAP, 0, 0, _SWAP | _INVERT], dtype=np.int64)

#: Bits of i and of j consumed per table lookup (six lookups cover 30 bits).
_CHUNK = 5
_CHUNK_MASK = (1 << _CHUNK) - 1
#: Points per block when encoding, to keep the float64 temporaries small.
_BLOCK = 1 << 20

_tables: dict[str, np.ndarray] = {}


def hilbert_pos_bitwise(i, j, orientation, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Hilbert-curve position of cell ``(i, j)`` in a ``2**bits`` grid, bit by bit.

    The reference definition that the lookup tables are built from: for each bit from
    the top, the quadrant ``(i_bit, j_bit)`` gives the next base-4 digit in the current
    orientation, and the digit updates the orientation.

    Runtime complexity: O(n * bits) for n cells.

    Returns ``(pos, final_orientation)``, int64 arrays.

    >>> pos, _ = hilbert_pos_bitwise([0, 0, 1, 1], [0, 1, 1, 0], 0, 1)
    >>> pos.tolist()
    [0, 1, 2, 3]
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    orient = np.broadcast_to(np.asarray(orientation, dtype=np.int64), np.broadcast(i, j).shape).copy()
    pos = np.zeros(orient.shape, dtype=np.int64)
    for b in range(bits - 1, -1, -1):
        quadrant = (((i >> b) & 1) << 1) | ((j >> b) & 1)
        digit = _IJ_TO_POS[orient, quadrant]
        pos = (pos << 2) | digit
        orient ^= _POS_TO_ORIENTATION[digit]
    return pos, orient


def _hilbert_pos_to_ij_bitwise(pos, orientation, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`hilbert_pos_bitwise`: ``(i, j, final_orientation)``."""
    pos = np.asarray(pos, dtype=np.int64)
    orient = np.broadcast_to(np.asarray(orientation, dtype=np.int64), pos.shape).copy()
    i = np.zeros(pos.shape, dtype=np.int64)
    j = np.zeros(pos.shape, dtype=np.int64)
    for b in range(bits - 1, -1, -1):
        digit = (pos >> (2 * b)) & 3
        quadrant = _POS_TO_IJ[orient, digit]
        i = (i << 1) | (quadrant >> 1)
        j = (j << 1) | (quadrant & 1)
        orient ^= _POS_TO_ORIENTATION[digit]
    return i, j, orient


def _lookup_tables() -> dict[str, np.ndarray]:
    """The chunk tables, built on first use (4 orientations x 2**10 cells each way)."""
    if not _tables:
        n = 1 << (2 * _CHUNK)
        cells = np.arange(n, dtype=np.int64)
        orient = np.repeat(np.arange(4, dtype=np.int64), n)
        ic = np.tile(cells >> _CHUNK, 4)
        jc = np.tile(cells & _CHUNK_MASK, 4)
        # index (orientation << 10) | (i_chunk << 5) | j_chunk
        pos, new_orient = hilbert_pos_bitwise(ic, jc, orient, _CHUNK)
        # index (orientation << 10) | pos_chunk
        pc = np.tile(cells, 4)
        i2, j2, inv_orient = _hilbert_pos_to_ij_bitwise(pc, orient, _CHUNK)
        _tables.update(
            pos=pos.astype(np.uint64), orient=new_orient.astype(np.int64),
            ij=((i2 << _CHUNK) | j2).astype(np.int64), inv_orient=inv_orient.astype(np.int64))
    return _tables


def latlng_to_xyz(lat_deg, lng_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors ``(x, y, z)`` of latitudes/longitudes in degrees (float64 arrays).

    Runtime complexity: O(n).

    >>> [round(float(c), 12) for c in latlng_to_xyz(90.0, 0.0)]
    [0.0, 0.0, 1.0]
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lng = np.radians(np.asarray(lng_deg, dtype=np.float64))
    cos_lat = np.cos(lat)
    return cos_lat * np.cos(lng), cos_lat * np.sin(lng), np.sin(lat)


def xyz_to_face_uv(x, y, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cube face (int64, 0..5) and face coordinates ``(u, v)`` in [-1, 1] of vectors.

    The face is the axis of the largest absolute coordinate (ties go to the later
    axis), plus 3 if that coordinate is negative.  ``(x, y, z)`` need not be unit
    length but must not be zero.

    Runtime complexity: O(n).

    >>> face, u, v = xyz_to_face_uv(1.0, 0.5, -0.25)
    >>> int(face), float(u), float(v)
    (0, 0.5, -0.25)
    """
    x, y, z = np.broadcast_arrays(*(np.asarray(c, dtype=np.float64) for c in (x, y, z)))
    ax, ay, az = np.abs(x), np.abs(y), np.abs(z)
    axis = np.where(ax > ay, np.where(ax > az, 0, 2), np.where(ay > az, 1, 2))
    big = np.choose(axis, (x, y, z))
    face = axis + np.where(big < 0, 3, 0)
    # (u, v) per face: 0: (y, z)/x  1: (-x, z)/y  2: (-x, -y)/z
    #                  3: (z, y)/x  4: (z, -x)/y  5: (-y, -x)/z
    num_u = np.choose(face, (y, -x, -x, z, z, -y))
    num_v = np.choose(face, (z, z, -y, y, -x, -x))
    return face.astype(np.int64), num_u / big, num_v / big


def uv_to_st(u) -> np.ndarray:
    """S2's quadratic projection of a face coordinate in [-1, 1] to [0, 1].

    Runtime complexity: O(n).

    >>> uv_to_st([-1.0, 0.0, 1.0]).tolist()
    [0.0, 0.5, 1.0]
    """
    u = np.asarray(u, dtype=np.float64)
    root = 0.5 * np.sqrt(1.0 + 3.0 * np.abs(u))
    return np.where(u >= 0, root, 1.0 - root)


def st_to_uv(s) -> np.ndarray:
    """Inverse of :func:`uv_to_st`.

    Runtime complexity: O(n).

    >>> st_to_uv([0.0, 0.5, 1.0]).tolist()
    [-1.0, 0.0, 1.0]
    """
    s = np.asarray(s, dtype=np.float64)
    return np.where(s >= 0.5, (4.0 * s * s - 1.0) / 3.0, (1.0 - 4.0 * (1.0 - s) * (1.0 - s)) / 3.0)


def _st_to_ij(s: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(s * _LIMIT_IJ), 0, _LIMIT_IJ - 1).astype(np.int64)


def face_ij_to_cell_id(face, i, j) -> np.ndarray:
    """Leaf cell ids (uint64) of leaf coordinates ``(i, j)`` in ``[0, 2**30)`` on faces.

    Runtime complexity: O(n) (six table lookups per cell).

    >>> hex(int(face_ij_to_cell_id(0, 2**29, 2**29)))
    '0x1000000000000001'
    """
    face = np.asarray(face, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    face, i, j = np.broadcast_arrays(face, i, j)
    if face.size and (face.min() < 0 or face.max() > 5):
        raise ValueError("face must be in 0..5")
    if i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= _LIMIT_IJ):
        raise ValueError(f"i and j must be in [0, 2**{MAX_LEVEL})")
    t = _lookup_tables()
    orient = face & _SWAP
    pos = np.zeros(face.shape, dtype=np.uint64)
    for k in range(MAX_LEVEL // _CHUNK - 1, -1, -1):
        shift = k * _CHUNK
        idx = (orient << (2 * _CHUNK)) | (((i >> shift) & _CHUNK_MASK) << _CHUNK) | ((j >> shift) & _CHUNK_MASK)
        pos = (pos << np.uint64(2 * _CHUNK)) | t["pos"][idx]
        orient = t["orient"][idx]
    return (face.astype(np.uint64) << np.uint64(_POS_BITS)) | (pos << np.uint64(1)) | np.uint64(1)


def latlng_to_cell_id(lat_deg, lng_deg) -> np.ndarray:
    """S2 leaf cell ids (level 30, uint64) of latitudes and longitudes in degrees.

    Inputs broadcast against each other; the result is a uint64 array of their
    broadcast shape (0-d inputs give a 1-element array).  Latitudes must lie in
    [-90, 90]; longitudes may be any finite value.

    Runtime complexity: O(n), in blocks of 2**20 points.

    >>> ids = latlng_to_cell_id([0.0, 49.703498679], [0.0, 11.770681595])
    >>> [hex(int(c)) for c in ids]
    ['0x1000000000000001', '0x47a1cbd595522b39']
    """
    lat = np.asarray(lat_deg, dtype=np.float64)
    lng = np.asarray(lng_deg, dtype=np.float64)
    lat, lng = np.broadcast_arrays(lat, lng)
    shape = lat.shape if lat.ndim else (1,)
    lat = lat.reshape(-1)
    lng = lng.reshape(-1)
    if not (np.isfinite(lat).all() and np.isfinite(lng).all()):
        raise ValueError("latitudes and longitudes must be finite")
    if lat.size and (lat.min() < -90.0 or lat.max() > 90.0):
        raise ValueError("latitudes must be in [-90, 90]")
    out = np.empty(lat.size, dtype=np.uint64)
    for start in range(0, lat.size, _BLOCK):
        sl = slice(start, start + _BLOCK)
        face, u, v = xyz_to_face_uv(*latlng_to_xyz(lat[sl], lng[sl]))
        out[sl] = face_ij_to_cell_id(face, _st_to_ij(uv_to_st(u)), _st_to_ij(uv_to_st(v)))
    return out.reshape(shape)


def _as_ids(ids) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.dtype.kind not in "ui":
        raise TypeError(f"cell ids must be integers, got {ids.dtype}")
    return ids.astype(np.uint64)


def cell_id_to_face(ids) -> np.ndarray:
    """The cube face (uint8, 0..5 for valid ids) of cell ids: their top three bits.

    Runtime complexity: O(n).

    >>> cell_id_to_face([0x1000000000000001, 0x47a1cbd595522b39]).tolist()
    [0, 2]
    """
    return (_as_ids(ids) >> np.uint64(_POS_BITS)).astype(np.uint8)


def cell_id_parent(ids, level: int) -> np.ndarray:
    """Ids of the ancestors at ``level`` (0..30) of leaf cell ids (uint64).

    The ancestor keeps the face and the first ``level`` Hilbert digits, then the
    marker bit: ``id & ~(lsb - 1) | lsb`` with ``lsb = 1 << 2*(30-level)``.

    Runtime complexity: O(n).

    >>> hex(int(cell_id_parent(0x47a1cbd595522b39, 0)))
    '0x5000000000000000'
    """
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"level must be in 0..{MAX_LEVEL}")
    lsb = np.uint64(1 << (2 * (MAX_LEVEL - level)))
    ids = _as_ids(ids)
    return (ids & ~(lsb - np.uint64(1))) | lsb


def cell_id_to_face_ij(ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(face, i, j)`` (int64 arrays) of leaf cell ids: the inverse of
    :func:`face_ij_to_cell_id`.

    Runtime complexity: O(n) (six table lookups per cell).

    >>> [int(a) for a in cell_id_to_face_ij(0x1000000000000001)]
    [0, 536870912, 536870912]
    """
    ids = _as_ids(ids)
    t = _lookup_tables()
    face = (ids >> np.uint64(_POS_BITS)).astype(np.int64)
    pos = ((ids >> np.uint64(1)) & np.uint64((1 << (2 * MAX_LEVEL)) - 1)).astype(np.int64)
    orient = face & _SWAP
    i = np.zeros(ids.shape, dtype=np.int64)
    j = np.zeros(ids.shape, dtype=np.int64)
    for k in range(MAX_LEVEL // _CHUNK - 1, -1, -1):
        idx = (orient << (2 * _CHUNK)) | ((pos >> (2 * _CHUNK * k)) & ((1 << (2 * _CHUNK)) - 1))
        ij = t["ij"][idx]
        i = (i << _CHUNK) | (ij >> _CHUNK)
        j = (j << _CHUNK) | (ij & _CHUNK_MASK)
        orient = t["inv_orient"][idx]
    return face, i, j


def cell_id_to_latlng(ids) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude in degrees (float64) of the centres of leaf cells.

    Runtime complexity: O(n).

    >>> lat, lng = cell_id_to_latlng(0x47a1cbd595522b39)
    >>> round(float(lat), 6), round(float(lng), 6)
    (49.703499, 11.770682)
    """
    face, i, j = cell_id_to_face_ij(ids)
    u = st_to_uv((i + 0.5) / _LIMIT_IJ)
    v = st_to_uv((j + 0.5) / _LIMIT_IJ)
    one = np.ones_like(u)
    # the inverse of the table in xyz_to_face_uv
    x = np.choose(face, (one, -u, -u, -one, v, v))
    y = np.choose(face, (u, one, -v, -v, -one, u))
    z = np.choose(face, (v, v, one, -u, -u, -one))
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lng = np.degrees(np.arctan2(y, x))
    return lat, lng
