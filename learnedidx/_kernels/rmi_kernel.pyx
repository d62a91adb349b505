# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled RMI lookups: the same steps as ``learnedidx.rmi``'s numpy reference, in C.

Every float operation (normalisation, root/middle/leaf models, clamps) is written in
the same order as the reference so routing agrees bit for bit; the build compiles
with ``-ffp-contract=off`` so no multiply-add is fused.  Searches compute lower bounds
of targets already in the key dtype (``learnedidx._queries``); ``side="right"`` and
mixed-type queries are reduced to such targets before they get here.

Batch lookups release the GIL and process ``GROUP`` queries at a time: all of them
are routed and their leaf records prefetched, then their windows and predicted keys
computed; the cache line of each predicted key is prefetched while the next group is
routed, and then the windows are searched in lock step (``search_near``: the predicted
line first, then a branch-free binary search of what is left), so that many cache
misses are in flight at once instead of one (``lower_bound_many``).  Queries routed to
hybrid leaves first search their leaf's separators, in a lock step of their own.  A
scalar lookup reads the predicted line first too.
"""
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t
from libc.math cimport frexp

from learnedidx._kernels.lookup cimport (
    GROUP, LIDX_PREFETCH, LookupKernel, clamp_to, fused_kind, key_t, lower_bound, near_step, search_near,
    search_passes, verify,
)

import numpy as np

# Model kinds, as learnedidx.models.base.
cdef enum:
    M_LINEAR = 0
    M_CUBIC = 1
    M_LOGLINEAR = 2
    M_RADIX = 3
    M_SPLINE = 4
    M_MLP = 5



# A leaf record (learnedidx.rmi.leaf_dtype): 24 bytes, so one in four straddles two
# cache lines.  Only its first line is prefetched: prefetching the second too, or padding
# records to 32 bytes, measured the same (10M lognormal keys, 9,175 leaves: the leaves
# sit in L2), and 24 bytes fit a third more leaves in a budget.
cdef packed struct Leaf:
    uint64_t base           # the key kind's: uint64, int64 or double (read by leaf_offset)
    float slope
    int32_t icept
    int32_t elo
    int32_t ehi


# A fence leaf record (learnedidx.rmi.fence_leaf_dtype): 64 bytes, one cache line when the
# table is 64-byte aligned.  The keys at positions ``start + j * step`` (j = 1..22) of the
# leaf's span, quantised (``fence_window``), are its fences; a lookup counts the fences
# below its own quantised target (22 at once, ``lidx_fence_counts``) and searches the
# ``step`` keys between two fences.
cdef struct FenceLeaf:
    uint64_t base           # the key kind's, as in Leaf
    uint32_t start
    uint32_t step
    float scale
    uint16_t fence[22]

cdef extern from *:
    """
    #if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
    #include <emmintrin.h>
    #define LIDX_FENCE_SSE2 1
    #endif
    /* How many of a fence leaf's 22 fences (uint16, bytes 20-63 of the 64-byte record
       rec) are below q (*lt) and at most q (*le).  The fences are non-decreasing (the
       build makes them so and a loaded table is checked), so the lanes below q are a
       prefix and those above a suffix: the highest and lowest set bits of two compare
       masks count them.  SSE2 compares signed 16-bit lanes, hence the bias. */
    static inline void lidx_fence_counts(const unsigned char* rec, unsigned q, long long* lt, long long* le) {
    #ifdef LIDX_FENCE_SSE2
        const __m128i bias = _mm_set1_epi16((short)0x8000);
        const __m128i qv = _mm_set1_epi16((short)(q ^ 0x8000u));
        const __m128i v0 = _mm_xor_si128(_mm_loadu_si128((const __m128i*)(rec + 16)), bias);
        const __m128i v1 = _mm_xor_si128(_mm_loadu_si128((const __m128i*)(rec + 32)), bias);
        const __m128i v2 = _mm_xor_si128(_mm_loadu_si128((const __m128i*)(rec + 48)), bias);
        unsigned long long below = (unsigned long long)(unsigned)_mm_movemask_epi8(_mm_cmpgt_epi16(qv, v0))
            | ((unsigned long long)(unsigned)_mm_movemask_epi8(_mm_cmpgt_epi16(qv, v1)) << 16)
            | ((unsigned long long)(unsigned)_mm_movemask_epi8(_mm_cmpgt_epi16(qv, v2)) << 32);
        unsigned long long above = (unsigned long long)(unsigned)_mm_movemask_epi8(_mm_cmpgt_epi16(v0, qv))
            | ((unsigned long long)(unsigned)_mm_movemask_epi8(_mm_cmpgt_epi16(v1, qv)) << 16)
            | ((unsigned long long)(unsigned)_mm_movemask_epi8(_mm_cmpgt_epi16(v2, qv)) << 32);
        below &= ~15ULL;                       /* bytes 16-19 hold the scale, not fences */
        above &= ~15ULL;
        *lt = ((64 - __builtin_clzll(below | 8ULL)) - 4) >> 1;
        *le = (__builtin_ctzll(above | (1ULL << 48)) - 4) >> 1;
    #else
        long long a = 0, b = 0;
        int j;
        for (j = 0; j < 22; j++) {
            unsigned f = ((const unsigned short*)(rec + 20))[j];
            a += f < q;
            b += f <= q;
        }
        *lt = a;
        *le = b;
    #endif
    }
    """
    void lidx_fence_counts(const unsigned char* rec, unsigned q, long long* lt, long long* le) noexcept nogil


cdef struct State:
    const void* keys
    int64_t n
    double fn
    double xlo
    double xhi
    double xlo_half
    double inv
    int root_kind
    const double* root
    const float* rtab      # a radix root's table (float32; root is then NULL)
    int64_t root_size      # radix: buckets; spline: knots
    double root_nb
    double root_last
    int stages
    const double* mid      # middle models, mid_stride values each: linear (a, b) or an MLP
    int64_t n_mid
    int mid_kind
    int64_t mid_size       # MLP width code
    int64_t mid_stride
    const void* leaves
    int64_t n_leaves
    int64_t leaf_bytes     # a leaf record's size: 24 (linear leaves) or 64 (fence leaves)
    bint fence_leaves
    double icept_unit      # a leaf's icept counts this many positions (learnedidx.rmi.icept_unit)
    const int64_t* hyb     # hybrid leaves: (off, count, start, end) per row
    const void* seps       # their separators, of the key dtype
    int64_t hyb_b          # max_error: keys between two separators
    const char* comp       # a companion array (one record per key) prefetched with the keys
    int64_t comp_size      # its record size in bytes; 0 for none


# ----------------------------------------------------------------- model arithmetic

cdef inline double u64_to_double(uint64_t v) noexcept nogil:
    """``<double>v`` without the branch compilers emit for unsigned 64-bit values (it
    mispredicts when keys straddle 2**63): both halves convert exactly and the sum is
    rounded once, so the result is the same correctly rounded value."""
    return <double>(<uint32_t>(v >> 32)) * 4294967296.0 + <double>(<uint32_t>v)


cdef inline double to_double(key_t x) noexcept nogil:
    """A key as the double the models take (``numpy``'s ``astype(float64)``)."""
    if key_t is uint64_t:
        return u64_to_double(x)
    else:
        return <double>x


cdef inline double signed_gap(uint64_t q, uint64_t b, bint below) noexcept nogil:
    """``q - b`` as a double, for 64-bit ``q`` and ``b`` with ``below`` = ``q < b``
    (either signedness, passed as their bit patterns): the magnitude converts exactly
    rounded, then takes its sign; no branch."""
    cdef uint64_t m = 0 - <uint64_t>below
    cdef double d = u64_to_double(((q - b) ^ m) - m)
    return d * (1.0 - 2.0 * <double>below)


cdef inline double gap(uint64_t q, uint64_t b, bint below) noexcept nogil:
    """``signed_gap(q, b, below)`` in one conversion when ``q - b`` fits in an int64 (the
    wrapped difference's sign then agrees with ``below``), as it does unless keys and
    queries span more than 2**63; a branch such data never takes runs the exact form."""
    cdef int64_t w = <int64_t>(q - b)
    if (w < 0) != below:
        return signed_gap(q, b, below)
    return <double>w


cdef inline int64_t clamp_index(double v, int64_t size) noexcept nogil:
    cdef double c = v if v > 0.0 else 0.0
    cdef double top = <double>(size - 1)
    c = c if c < top else top
    return <int64_t>c


cdef inline double eval_mlp(const double* p, int64_t size, double t) noexcept nogil:
    """ReLU network ``1 -> h1 [-> h2] -> 1``; each layer's W (row-major) then b, summed in
    the order of ``learnedidx.models.mlp`` (bias first, then inputs in order)."""
    cdef int h1 = <int>(size & 255)
    cdef int h2 = <int>((size >> 8) & 255)
    cdef double a[32]
    cdef double b[32]
    cdef double acc
    cdef int j, k
    if h1 == 0:
        return p[1] + p[0] * t
    for j in range(h1):
        acc = p[h1 + j] + p[j] * t
        a[j] = acc if acc > 0.0 else 0.0
    p += 2 * h1
    if h2 == 0:
        acc = p[h1]
        for k in range(h1):
            acc = acc + p[k] * a[k]
        return acc
    for j in range(h2):
        acc = p[h2 * h1 + j]
        for k in range(h1):
            acc = acc + p[j * h1 + k] * a[k]
        b[j] = acc if acc > 0.0 else 0.0
    p += h2 * h1 + h2
    acc = p[h2]
    for k in range(h2):
        acc = acc + p[k] * b[k]
    return acc


def mlp_vector_size(int64_t size):
    """Length of the parameter vector of an MLP whose widths ``size`` encodes, or -1."""
    cdef int64_t h1 = size & 255, h2 = (size >> 8) & 255
    if size < 0 or size >> 16 or h1 > 32 or h2 > 32 or (h1 == 0 and h2 != 0):
        return -1
    if h1 == 0:
        return 2
    if h2 == 0:
        return 3 * h1 + 1
    return 2 * h1 + h2 * h1 + 2 * h2 + 1


cdef inline double eval_radix(const float* p, double nb, double last, double t) noexcept nogil:
    """A radix table of ``nb`` buckets (``last`` = ``nb - 1``) interpolated at ``t``, in
    float64 on the float32 entries."""
    cdef double s = t * nb
    cdef double c = s if s > 0.0 else 0.0
    c = c if c < last else last
    cdef int64_t j = <int64_t>c
    cdef double y0 = <double>p[j]
    return y0 + (<double>p[j + 1] - y0) * (s - <double>j)


cdef inline double normalise(double x, double xlo, double xhi, double xlo_half, double inv) noexcept nogil:
    """A key (as a double) clamped to the keys' range and mapped onto [0, 1]."""
    x = x if x > xlo else xlo
    x = x if x < xhi else xhi
    return (x * 0.5 - xlo_half) * inv


cdef inline double eval_root(const State* st, double t) noexcept nogil:
    cdef const double* p = st.root
    cdef double m
    cdef int e
    cdef int64_t lo, hi, mid, k
    if st.root_kind == M_LINEAR:
        return p[0] + p[1] * t
    elif st.root_kind == M_CUBIC:
        return ((p[3] * t + p[2]) * t + p[1]) * t + p[0]
    elif st.root_kind == M_LOGLINEAR:
        m = frexp(1.0 + t * p[2], &e)
        return p[0] + p[1] * ((<double>e - 2.0) + 2.0 * m)
    elif st.root_kind == M_MLP:
        return eval_mlp(p, st.root_size, t)
    elif st.root_kind == M_RADIX:
        return eval_radix(st.rtab, st.root_nb, st.root_last, t)
    else:  # M_SPLINE: knots p[0:k], values p[k:2k], slopes p[2k:3k-1]
        k = st.root_size
        lo = 0
        hi = k - 1
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if p[mid] <= t:
                lo = mid
            else:
                hi = mid
        return p[k + lo] + (t - p[lo]) * p[2 * k + lo]


cdef inline int64_t route(const State* st, double x) noexcept nogil:
    """Leaf of a target already converted to double."""
    cdef double t = normalise(x, st.xlo, st.xhi, st.xlo_half, st.inv)
    cdef int64_t m
    cdef const double* p
    if st.stages == 3:
        m = clamp_index(eval_root(st, t), st.n_mid)
        p = st.mid + m * st.mid_stride
        if st.mid_kind == M_MLP:
            return clamp_index(eval_mlp(p, st.mid_size, t), st.n_leaves)
        return clamp_index(p[0] + p[1] * t, st.n_leaves)
    return clamp_index(eval_root(st, t), st.n_leaves)


cdef inline void hybrid_window_from(const State* st, int64_t row, int64_t c, int64_t* lo, int64_t* hi) noexcept nogil:
    """Window in hybrid leaf ``row`` of a target with ``c`` of the leaf's separators below
    it: the ``hyb_b`` keys between two separators (``RMI._hybrid_window_from``)."""
    cdef const int64_t* h = st.hyb + 4 * row
    cdef int64_t b = h[2] + c * st.hyb_b + 1
    lo[0] = h[2] + (c - 1) * st.hyb_b + 1 if c > 0 else h[2]
    hi[0] = b if b < h[3] else h[3]


cdef inline void hybrid_window(const State* st, key_t x, int64_t row, int64_t* lo, int64_t* hi) noexcept nogil:
    """Window of ``x`` in a hybrid leaf: count its separators below ``x``, then
    ``hybrid_window_from``."""
    cdef int64_t off = st.hyb[4 * row]
    hybrid_window_from(st, row, lower_bound(<const key_t*>st.seps, x, off, off + st.hyb[4 * row + 1]) - off,
                       lo, hi)


cdef inline double leaf_offset(const State* st, key_t x, const char* rec) noexcept nogil:
    """Signed offset of target ``x`` from the ``base`` key of a leaf record ``rec`` (the
    first field of every record kind), as a double: exact before one rounding
    (``RMI._offsets``); float targets are clamped to the keys' range first."""
    cdef double xd
    cdef uint64_t qu, bu
    cdef int64_t qi, bi
    if key_t is float or key_t is double:
        xd = <double>x
        xd = xd if xd > st.xlo else st.xlo
        xd = xd if xd < st.xhi else st.xhi
        return xd - (<const double*>rec)[0]
    elif key_t is uint32_t or key_t is uint64_t:
        qu = <uint64_t>x
        bu = (<const uint64_t*>rec)[0]
        return gap(qu, bu, qu < bu)
    else:
        qi = <int64_t>x
        bi = (<const int64_t*>rec)[0]
        return gap(<uint64_t>qi, <uint64_t>bi, qi < bi)


cdef inline int64_t fence_window(const State* st, key_t x, int64_t leaf, int64_t* lo, int64_t* hi) noexcept nogil:
    """Search window ``[lo, hi)`` of target ``x`` in fence leaf ``leaf`` (clamped to ``[0,
    n]``); returns the window's middle, where the search starts (``RMI._fence_windows``).

    ``q(x)`` is 0 below the leaf's first fence (its ``base``), else ``1 + floor((x -
    base) * scale)`` capped at 65534 (65535 marks unused lanes, never counted).  With
    ``a`` fences below ``q(x)`` and ``b`` at most ``q(x)``, fence ``a``'s key (position
    ``start + a * step``; fence 0 is the leaf's first key) is below ``x`` when ``a > 0``
    and fence ``b + 1``'s is above it, so the lower bound lies in ``[start + a * step +
    (a > 0), start + (b + 1) * step]``: ``step`` keys, or more where fences share ``q(x)``.
    """
    cdef const char* r = <const char*>(<const FenceLeaf*>st.leaves + leaf)
    cdef double qd = leaf_offset(st, x, r) * <double>(<const FenceLeaf*>r).scale
    cdef int64_t start = (<const FenceLeaf*>r).start      # (start, step, scale: the same offsets in
    cdef int64_t step = (<const FenceLeaf*>r).step        # every key kind's record)
    cdef int64_t a, b
    cdef long long lt, le
    qd = qd + 1.0 if qd >= 0.0 else 0.0     # (NaN -> 0)
    qd = qd if qd < 65534.0 else 65534.0
    lidx_fence_counts(<const unsigned char*>r, <unsigned>qd, &lt, &le)
    a = start + lt * step + (lt > 0)
    b = start + (le + 1) * step
    a = a if a < st.n else st.n
    b = b if b < st.n else st.n
    b = b if b > a else a                  # (only a forged table could invert it)
    lo[0] = a
    hi[0] = b
    return (a + b) >> 1


cdef inline int64_t leaf_window(const State* st, key_t x, int64_t leaf, int64_t* lo, int64_t* hi,
                                int64_t* hybrid_row=NULL) noexcept nogil:
    """Search window ``[lo, hi)`` of target ``x`` in ``leaf`` (clamped to ``[0, n]``); returns
    the leaf model's predicted position (a hybrid leaf's: its window's middle, where the
    search starts; ``RMI.predict`` reports the window's start for those; a fence leaf's:
    its window's middle, ``fence_window``).

    Given ``hybrid_row``, a hybrid leaf is left to the caller instead: its row goes
    there, the window is not computed, and the return value is -1 (a linear leaf's
    prediction is clamped to ``[0, n]``, so it is never negative).
    """
    cdef double d, pred, c
    cdef int64_t p, a, b
    cdef int32_t elo, ehi, icept
    cdef float slope
    cdef const Leaf* rec = <const Leaf*>st.leaves + leaf   # slope, icept, elo, ehi: the same offsets
    if st.fence_leaves:                                      # in every key kind's record
        return fence_window(st, x, leaf, lo, hi)
    d = leaf_offset(st, x, <const char*>rec)
    slope = rec.slope
    icept = rec.icept
    elo = rec.elo
    ehi = rec.ehi
    if slope != slope:                     # NaN marks a hybrid leaf; elo is its row
        if hybrid_row != NULL:
            hybrid_row[0] = elo
            return -1
        hybrid_window(st, x, elo, lo, hi)
        return (lo[0] + hi[0]) >> 1
    pred = <double>icept * st.icept_unit + <double>slope * d
    c = pred if pred > 0.0 else 0.0
    c = c if c < st.fn else st.fn
    p = <int64_t>c
    a = p + elo
    b = p + ehi
    a = 0 if a < 0 else (st.n if a > st.n else a)
    b = 0 if b < 0 else (st.n if b > st.n else b)
    lo[0] = a
    hi[0] = b
    return p


# ------------------------------------------------------------------------- searches

cdef inline int64_t lower_bound_one(const State* st, key_t x, int64_t* fallbacks) noexcept nogil:
    cdef const key_t* keys = <const key_t*>st.keys
    cdef int64_t lo, hi, a, b, q
    if st.n == 0:
        return 0
    q = leaf_window(st, x, route(st, to_double(x)), &lo, &hi)
    a = lo
    b = hi
    if a < b:
        q = clamp_to(q, a, b - 1)
        prefetch_companion(st.comp, st.comp_size, q)   # the value of the predicted key, while the keys are searched
        near_step(keys, q, x, &a, &b)
    return verify(keys, st.n, x, lower_bound(keys, x, a, b), lo, hi, fallbacks)


cdef inline void take_window(const State* st, int64_t a, int64_t b, int64_t q,
                             int64_t* lo, int64_t* hi, int64_t* pos) noexcept nogil:
    """Store a batch query's window ``[a, b)`` and predicted key ``q`` (``prefetch_near``
    fetches that key's line later).  An empty window becomes the one-key window at its
    position, which the verification treats like any other."""
    if b <= a:
        a = a if a < st.n else st.n - 1
        b = a + 1
    lo[0] = a
    hi[0] = b
    pos[0] = clamp_to(q, a, b - 1)         # the predicted key, inside the window


cdef inline void prefetch_companion(const char* comp, int64_t comp_size, int64_t q) noexcept nogil:
    """Prefetch the companion record of key ``q`` (the value a caller reads next), if any
    (``comp``, ``comp_size``: the state's, passed in registers since the batch loops'
    stores would make the compiler re-read them through the state)."""
    if comp_size:
        LIDX_PREFETCH(comp + q * comp_size)


cdef inline void prefetch_near(const key_t* keys, int64_t q, const char* comp, int64_t comp_size) noexcept nogil:
    """Prefetch the line of a batch query's predicted key ``q`` and its companion record."""
    LIDX_PREFETCH(keys + q)
    prefetch_companion(comp, comp_size, q)


cdef inline void route_group(const State* st, const key_t* xs, int64_t gn, int64_t* leaf, const key_t* keys,
                             const int64_t* ppos, int64_t npf, bint radix) noexcept nogil:
    """Route a batch group's ``gn`` queries to their leaves into ``leaf`` for two stages
    with a radix (``radix``) or linear root, prefetching each leaf record, and the first
    ``npf`` predicted lines of the previous group (``ppos``), one per query.

    ``route()`` with the state's scalars in registers: the general ``route`` re-reads
    them through ``st`` after every store and dispatches on the root's kind per query
    (up to 11% slower at 1M keys).  ``radix`` is a constant at each call, so each call
    compiles to a loop of its own (radix roots at 10M keys 1-4% faster than one loop
    testing the root's shape per query; the general ``route`` stays in a loop of the
    caller's, where it measured 2-6% faster than in this function; bench/RESULTS.md,
    "Fewer instructions per batch lookup").
    """
    cdef const double* p = st.root
    cdef const float* rtab = st.rtab
    cdef const char* leaves = <const char*>st.leaves
    cdef double xlo = st.xlo, xhi = st.xhi, xlo_half = st.xlo_half, inv = st.inv
    cdef double nb = st.root_nb, last = st.root_last, t
    cdef int64_t i, n_leaves = st.n_leaves, comp_size = st.comp_size, leaf_bytes = st.leaf_bytes
    cdef const char* comp = st.comp
    for i in range(gn):
        t = normalise(to_double(xs[i]), xlo, xhi, xlo_half, inv)
        leaf[i] = clamp_index(eval_radix(rtab, nb, last, t) if radix else p[0] + p[1] * t, n_leaves)
        LIDX_PREFETCH(leaves + leaf[i] * leaf_bytes)
        if i < npf:
            prefetch_near(keys, ppos[i], comp, comp_size)


cdef int64_t lower_bound_many(const State* st, const key_t* xs, int64_t m, int64_t* out,
                              bint equal_only=False) noexcept nogil:
    """Interleaved batch lower bounds; returns the number of fallbacks.

    With ``equal_only`` each answer becomes -1 unless the key there equals the target
    (``lookup``): that key's line was just searched, so the check costs no extra miss.

    For the common shape (two stages, a radix or linear root) a group is routed by
    ``route_group``, a loop of its own per root kind with the state's scalars in
    registers; other shapes call the general ``route`` per query.  Queries routed to
    hybrid leaves search their leaf's separators in a lock step of their own first.

    The search starts at the predicted key's line (``search_near``).  The groups are
    software-pipelined: a group's predicted lines are prefetched one per query while the
    *next* group is routed (for a two-stage linear root, whose routing is a few
    instructions: while the next group's leaf windows are computed), and the group is
    searched after that.  64 line misses issued back to back overflow the core's miss
    buffers and the core waits; spread over other arithmetic they overlap it.  Measured
    same-process (``bench/kernel_ab.py``) at 10M keys, B / A: radix roots 0.946-0.971 on
    uniform, lognormal and GSHHG keys, 3 stages 0.946-0.955, cubic and spline roots
    0.953-0.976 (lognormal, GSHHG); linear and MLP roots and hybrid leaves 0.98-1.01
    (a linear root's prefetches in its routing loop came nearly back to back: 1.10).
    bench/RESULTS.md, "Pipelined groups"; prefetching them earlier (in the previous
    group's search) or later (half in the window loop) measured 3-7% slower ("Fewer
    instructions per batch lookup").
    """
    cdef const key_t* keys = <const key_t*>st.keys
    cdef int64_t n = st.n, fallbacks = 0, g0 = 0, gn, i, a, b, q
    cdef int64_t pg0 = 0, pgn = 0           # the previous group: its first query and size
    cdef bint direct = st.stages == 2 and (st.root_kind == M_RADIX or st.root_kind == M_LINEAR)
    cdef bint radix = st.root_kind == M_RADIX
    cdef bint prefetch_in_routing = not (direct and not radix)     # all but a two-stage linear root
    cdef int64_t npf_route, npf_window, comp_size = st.comp_size
    cdef const char* comp = st.comp
    cdef const char* leaves = <const char*>st.leaves
    cdef int64_t leaf[GROUP]
    cdef int64_t lo_buf[2 * GROUP]
    cdef int64_t hi_buf[2 * GROUP]
    cdef int64_t pos_buf[2 * GROUP]
    cdef int64_t* lo = lo_buf              # this group's windows and predicted keys ...
    cdef int64_t* hi = hi_buf
    cdef int64_t* pos = pos_buf
    cdef int64_t* plo = lo_buf + GROUP     # ... and the previous group's
    cdef int64_t* phi = hi_buf + GROUP
    cdef int64_t* ppos = pos_buf + GROUP
    cdef int64_t* swap
    cdef int64_t r[GROUP]
    cdef const key_t* seps = <const key_t*>st.seps
    cdef int64_t n_hyb, hyb_longest, k, row = 0
    cdef int64_t hyb_query[GROUP]
    cdef int64_t hyb_row[GROUP]
    cdef const key_t* hyb_base[GROUP]
    cdef int64_t hyb_len[GROUP]
    cdef key_t hyb_x[GROUP]
    if n == 0:
        for i in range(m):
            out[i] = -1 if equal_only else 0
        return 0
    while True:
        gn = (m - g0 if m - g0 < GROUP else GROUP) if g0 < m else 0
        npf_route = pgn if prefetch_in_routing else 0     # the previous group's predicted lines fetched
        npf_window = pgn - npf_route                       # while routing, or one per window
        if radix and direct:               # (each call compiles to a loop of its own)
            route_group(st, xs + g0, gn, leaf, keys, ppos, npf_route, True)
        elif direct:
            route_group(st, xs + g0, gn, leaf, keys, ppos, npf_route, False)
        else:
            for i in range(gn):
                leaf[i] = route(st, to_double(xs[g0 + i]))
                LIDX_PREFETCH(leaves + leaf[i] * st.leaf_bytes)
                if i < npf_route:
                    prefetch_near(keys, ppos[i], comp, comp_size)
        for i in range(gn, pgn):           # (the last round routes fewer queries, or none)
            prefetch_near(keys, ppos[i], comp, comp_size)
        n_hyb = 0
        hyb_longest = 0
        for i in range(gn):
            if i < npf_window:
                prefetch_near(keys, ppos[i], comp, comp_size)
            q = leaf_window(st, xs[g0 + i], leaf[i], &a, &b, &row)
            if q < 0:                      # a hybrid leaf: its separators are searched below
                hyb_query[n_hyb] = i
                hyb_row[n_hyb] = row
                hyb_base[n_hyb] = seps + st.hyb[4 * row]
                hyb_len[n_hyb] = st.hyb[4 * row + 1]        # >= 1: RMI._hybrid_problem checks loaded tables
                hyb_x[n_hyb] = xs[g0 + i]
                hyb_longest = hyb_longest if hyb_longest > hyb_len[n_hyb] else hyb_len[n_hyb]
                LIDX_PREFETCH(hyb_base[n_hyb] + (hyb_len[n_hyb] >> 1))
                n_hyb += 1
                continue
            take_window(st, a, b, q, &lo[i], &hi[i], &pos[i])
        if n_hyb:                          # in lock step too, so their cache misses overlap
            search_passes(seps, hyb_base, hyb_len, hyb_x, n_hyb, hyb_longest, r)
            for k in range(n_hyb):
                i = hyb_query[k]
                row = hyb_row[k]
                hybrid_window_from(st, row, r[k] - st.hyb[4 * row], &a, &b)
                take_window(st, a, b, (a + b) >> 1, &lo[i], &hi[i], &pos[i])
        if pgn:                            # the previous group's searches
            fallbacks += search_near(keys, n, plo, phi, ppos, xs + pg0, pgn, equal_only, out + pg0)
        if gn == 0:
            break
        swap = lo; lo = plo; plo = swap    # this group is searched in the next round
        swap = hi; hi = phi; phi = swap
        swap = pos; pos = ppos; ppos = swap
        pg0 = g0
        pgn = gn
        g0 += gn
    return fallbacks


def _check_model(int kind, vec, int64_t size):
    """Reject parameter vectors the evaluation would read past (files are untrusted)."""
    need = {M_LINEAR: 2, M_CUBIC: 4, M_LOGLINEAR: 3}.get(kind)
    if kind == M_RADIX:
        need = size + 1 if size >= 1 else -1
    elif kind == M_SPLINE:
        need = 3 * size - 1 if size >= 2 else -1
    elif kind == M_MLP:
        need = mlp_vector_size(size)
    elif need is None:
        raise ValueError(f"model kind {kind} has no compiled evaluation")
    if need < 0 or vec.shape[0] != need:
        raise ValueError(f"model kind {kind}: parameter vector of {vec.shape[0]} values, expected {need}")


cdef int _bind_root(State* st, int kind, root_vec, int64_t size) except -1:
    """Point ``st`` at a root's parameters: a float32 table for a radix root, a float64
    vector for the others (checked by ``_check_model``; kept alive by the caller)."""
    cdef const double[::1] rv
    cdef const float[::1] tv
    _check_model(kind, root_vec, size)
    st.root_kind = kind
    st.root = NULL
    st.rtab = NULL
    if kind == M_RADIX:
        tv = root_vec
        st.rtab = &tv[0]
    else:
        rv = root_vec
        st.root = &rv[0] if rv.shape[0] else NULL
    st.root_size = size
    st.root_nb = <double>size
    st.root_last = <double>(size - 1)
    return 0


def predict_many(int kind, root_vec, int64_t size, const double[::1] t, double[::1] out):
    """Evaluate a root model on every ``t`` into ``out`` (the kernels' own arithmetic).

    The RMI's build routes all keys with it: for an MLP root it is the same result as
    the numpy reference, many times faster.
    """
    cdef State st
    cdef int64_t i, m = t.shape[0]
    if out.shape[0] != m:
        raise ValueError("output length differs from input length")
    _bind_root(&st, kind, root_vec, size)
    with nogil:
        for i in range(m):
            out[i] = eval_root(&st, t[i])


#: Queries per interleaved batch group; part of the tuner's calibration-cache key, so a
#: kernel build with another group size recalibrates instead of reusing stale timings.
BATCH_GROUP = GROUP
#: Bumped whenever the kernels' memory access pattern changes (what gets prefetched, how a
#: window is searched): also part of that cache key, since timings move with it.
KERNEL_REVISION = 11


cdef class RMIKernel(LookupKernel):
    """Compiled lookups over an RMI's arrays (which it keeps alive, never copies).

    Built by ``learnedidx.RMI``; not meant to be constructed by users.
    """
    cdef State st
    cdef object _refs
    cdef object _companion

    def __init__(self, keys, leaves, int root_kind, root_vec, int64_t root_size, mid_vec,
                 int64_t n_mid, int mid_kind, int64_t mid_size, int stages, double xlo, double xhi,
                 double xlo_half, double inv,
                 hyb_vec, seps, int64_t hyb_b, double icept_unit, bint fence_leaves=False):
        cdef const unsigned char[::1] lb = leaves.view(np.uint8)
        cdef const double[::1] mv = mid_vec
        cdef const int64_t[::1] hv = hyb_vec
        cdef const unsigned char[::1] sv = seps.view(np.uint8)
        if seps.dtype != keys.dtype:
            raise ValueError("separators must have the key dtype")
        if leaves.dtype.itemsize != (sizeof(FenceLeaf) if fence_leaves else sizeof(Leaf)):
            raise ValueError(f"leaf records must be {sizeof(FenceLeaf) if fence_leaves else sizeof(Leaf)} bytes")
        if fence_leaves and hyb_vec.shape[0]:
            raise ValueError("fence leaves have no hybrid leaves")
        if not icept_unit >= 1.0:
            raise ValueError("icept_unit must be >= 1")
        _bind_root(&self.st, root_kind, root_vec, root_size)
        if stages == 3:
            if n_mid < 1 or mv.shape[0] % n_mid or mid_kind not in (M_LINEAR, M_MLP):
                raise ValueError("middle stage parameters do not split into one vector per model")
            _check_model(mid_kind, mid_vec[:mv.shape[0] // n_mid], mid_size)
        self._bind_keys(keys)
        self._refs = (leaves, root_vec, mid_vec, hyb_vec, seps)
        self.st.keys = self.keys
        self.st.n = self.n
        self.st.fn = <double>self.n
        self.st.xlo = xlo
        self.st.xhi = xhi
        self.st.xlo_half = xlo_half
        self.st.inv = inv
        self.st.stages = stages
        self.st.mid = &mv[0] if mv.shape[0] else NULL
        self.st.n_mid = n_mid
        self.st.mid_kind = mid_kind
        self.st.mid_size = mid_size
        self.st.mid_stride = mv.shape[0] // n_mid if n_mid else 0
        self.st.leaves = &lb[0]
        self.st.n_leaves = leaves.shape[0]
        self.st.leaf_bytes = leaves.dtype.itemsize
        self.st.fence_leaves = fence_leaves
        self.st.icept_unit = icept_unit
        self.st.hyb = &hv[0] if hv.shape[0] else NULL
        self.st.seps = &sv[0] if sv.shape[0] else NULL
        self.st.hyb_b = hyb_b
        self.st.comp = NULL
        self.st.comp_size = 0
        self._companion = None

    def prefetch_with(self, companion):
        """Prefetch ``companion[i]`` (a contiguous array with one record per key, such as a
        map's values) at each lookup's predicted position, so that a caller reading it
        next overlaps that cache miss with the key search.  ``None`` stops it.  Only a
        hint: answers never depend on it, and the array is kept alive while in use."""
        cdef size_t address
        if companion is None or companion.shape[0] == 0 or companion.dtype.itemsize == 0:
            self._companion = None
            self.st.comp = NULL
            self.st.comp_size = 0
            return
        if companion.ndim != 1 or companion.shape[0] != self.n or not companion.flags.c_contiguous:
            raise ValueError("the companion array must be 1-D, contiguous and have one record per key")
        address = companion.ctypes.data          # any dtype, object arrays included (never read here)
        self._companion = companion
        self.st.comp = <const char*>address
        self.st.comp_size = companion.dtype.itemsize
    cdef int64_t _lb_u32(self, uint32_t x) noexcept:
        return lower_bound_one(&self.st, x, &self.fallbacks)
    cdef int64_t _lb_u64(self, uint64_t x) noexcept:
        return lower_bound_one(&self.st, x, &self.fallbacks)
    cdef int64_t _lb_i32(self, int32_t x) noexcept:
        return lower_bound_one(&self.st, x, &self.fallbacks)
    cdef int64_t _lb_i64(self, int64_t x) noexcept:
        return lower_bound_one(&self.st, x, &self.fallbacks)
    cdef int64_t _lb_f32(self, float x) noexcept:
        return lower_bound_one(&self.st, x, &self.fallbacks)
    cdef int64_t _lb_f64(self, double x) noexcept:
        return lower_bound_one(&self.st, x, &self.fallbacks)

    def window(self, object target):
        """``(leaf, lo, hi)`` of one target of the key dtype's values (for tests)."""
        arr = np.array([target], dtype=self.dtype)
        leaf, lo, hi = np.empty(1, np.int64), np.empty(1, np.int64), np.empty(1, np.int64)
        self.windows_batch(arr, leaf, lo, hi)
        return int(leaf[0]), int(lo[0]), int(hi[0])

    # ----------------------------------------------------------------- batch path

    def lower_bound_batch(self, const key_t[::1] targets, int64_t[::1] out):
        """Lower bounds of ``targets`` (the key dtype) into ``out``; releases the GIL.

        Returns the number of queries whose window missed and was repaired.
        """
        cdef int64_t fb
        cdef int64_t m = targets.shape[0]
        self._check_kind(fused_kind(<const key_t*>NULL), m, out.shape[0])
        if m == 0:
            return 0
        with nogil:
            fb = lower_bound_many(&self.st, &targets[0], m, &out[0])
        self.fallbacks += fb
        return fb

    def lookup_batch(self, const key_t[::1] targets, int64_t[::1] out):
        """Position of the first key equal to each target (the key dtype), or -1, into
        ``out``; releases the GIL.  Returns the number of repaired windows."""
        cdef int64_t fb
        cdef int64_t m = targets.shape[0]
        self._check_kind(fused_kind(<const key_t*>NULL), m, out.shape[0])
        if m == 0:
            return 0
        with nogil:
            fb = lower_bound_many(&self.st, &targets[0], m, &out[0], True)
        self.fallbacks += fb
        return fb

    def windows_batch(self, const key_t[::1] targets, int64_t[::1] leaf, int64_t[::1] lo, int64_t[::1] hi):
        """``(leaf, lo, hi)`` of every target into the three arrays (for tests)."""
        cdef int64_t i, m = targets.shape[0]
        self._check_kind(fused_kind(<const key_t*>NULL), m, leaf.shape[0])
        with nogil:
            for i in range(m):
                leaf[i] = route(&self.st, to_double(targets[i]))
                leaf_window(&self.st, targets[i], leaf[i], &lo[i], &hi[i])
