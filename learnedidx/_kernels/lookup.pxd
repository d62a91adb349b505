# cython: language_level=3
"""Shared pieces of the compiled lookup kernels (RMI, B-tree, binary search).

``LookupKernel`` is the base of every compiled index: it reduces one Python number
to a lower-bound target in C (``learnedidx._queries`` semantics) and dispatches to
the subclass's per-dtype ``_lb_*`` method.  The inline searches here are the compiled
twins of ``learnedidx.search``, except ``near_step`` / ``search_near``, which reach the
same answers by another probe order (the reference searches the whole window).
"""
cimport cython
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t, uintptr_t

ctypedef fused key_t:
    uint32_t
    uint64_t
    int32_t
    int64_t
    float
    double

# Key kinds, in learnedidx._validate.SUPPORTED_DTYPES order.
cdef enum:
    K_U32 = 0
    K_U64 = 1
    K_I32 = 2
    K_I64 = 3
    K_F32 = 4
    K_F64 = 5

cdef enum:
    GROUP = 64          # queries searched in lock step by the RMI's batch kernel (measured at 10M
                        # lognormal keys against 16 and 32: more misses in flight, RMI 84 -> 61 ns,
                        # B-tree 106 -> 77 ns per lookup; 128 was 2% slower; with pipelined groups
                        # 48 and 96 were 1-4% slower; the B-tree now has its own, BTREE_GROUP = 48;
                        # see bench/RESULTS.md)
    TARGET = 0          # codes of learnedidx._queries
    BELOW = 1
    ABOVE = 2
    SLOW = 16           # added to a code whose target is a Python object (self._slow)

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define LIDX_PREFETCH(p) __builtin_prefetch((const void*)(p), 0, 1)
    #else
    #define LIDX_PREFETCH(p) ((void)0)
    #endif
    """
    void LIDX_PREFETCH(const void* p) nogil


cdef inline int fused_kind(const key_t* p) noexcept nogil:
    """The key kind of a fused specialisation (only ``p``'s type matters)."""
    cdef int kind
    if key_t is uint32_t:
        kind = K_U32
    elif key_t is uint64_t:
        kind = K_U64
    elif key_t is int32_t:
        kind = K_I32
    elif key_t is int64_t:
        kind = K_I64
    elif key_t is float:
        kind = K_F32
    else:
        kind = K_F64
    return kind


cdef inline const key_t* probe_step(const key_t* b, int64_t half, key_t x) noexcept nogil:
    """``b + half`` if ``b[half] < x``, else ``b``: one step of a binary search.

    Written as a mask, not as a conditional expression: gcc compiles the conditional
    form to a jump, which mispredicts whenever the comparison's outcome is a coin toss.
    """
    return b + (half & -<int64_t>(b[half] < x))


cdef inline int64_t lower_bound(const key_t* keys, key_t x, int64_t lo, int64_t hi) noexcept nogil:
    """Branch-free lower bound of ``x`` in ``keys[lo:hi]`` (a value in ``[lo, hi]``), for
    one query at a time: before each step it prefetches both probes the next step may
    take, so that step's miss is already in flight while this one's comparison waits (a
    lone search otherwise pays one full memory latency per line it reads; measured on
    10M keys: scalar RMI lookups 5-27% faster, the B-tree's 2-11%, a binary search over
    all keys 35%).  Batch searches step in lock step instead (``search_passes``)."""
    cdef int64_t length = hi - lo, half, nxt
    cdef const key_t* base = keys + lo
    if length <= 0:
        return lo
    while length > 1:
        half = length >> 1
        nxt = (length - half) >> 1             # the next step's offset from either base
        LIDX_PREFETCH(base + nxt)
        LIDX_PREFETCH(base + half + nxt)
        base = probe_step(base, half, x)
        length -= half
    return (base - keys) + (base[0] < x)


cdef enum:
    PREFETCH_LINES = 1   # windows up to this many cache lines are prefetched whole; wider ones
                         # only at their first probe.  Prefetching whole windows (16 lines) spent
                         # DRAM bandwidth on lines the search never reads: at 10M keys, 16K-leaf
                         # RMI 66.7 -> 50.5 ns (uniform), 64.4 -> 57.1 ns (lognormal), the B-tree
                         # within noise (bench/RESULTS.md).  Now used by the B-tree's pages only:
                         # the RMI prefetches its predicted key's line (prefetch_near)


cdef inline void prefetch_window(const void* first, int64_t nbytes) noexcept nogil:
    """Prefetch every cache line of a small window (its probes then hit the cache),
    or only its middle line when it is wider than ``PREFETCH_LINES``."""
    cdef const char* p = <const char*>first
    cdef int64_t off
    if nbytes <= PREFETCH_LINES * 64:
        off = 0
        while off < nbytes:
            LIDX_PREFETCH(p + off)
            off += 64
    else:
        LIDX_PREFETCH(p + (nbytes >> 1))


cdef inline int finish_steps(const key_t* p) noexcept nogil:
    """Halving steps a lock-step search leaves to a per-query loop at its end: those of a
    range of one cache line's keys (3 for 8-byte keys, 4 for 4-byte ones; only ``p``'s
    type matters).  Their probes mostly hit lines already fetched, so a pass's loads
    and stores of each query's state cost more than the steps: taken per query with
    the state in registers, an RMI lookup at 10M keys is 2-3% faster (measured with 2,
    3 and 4 steps for 8-byte keys: 2% / 3% / 3%; 5 steps leave ranges of two lines, whose
    misses then stall one query at a time: 2-27% slower).
    """
    return 3 if sizeof(key_t) == 8 else 4


cdef inline int64_t lockstep_passes(const key_t* keys, const key_t** base, int64_t* length, const key_t* xs,
                                    int64_t gn, int64_t longest) noexcept nogil:
    """Advance ``gn`` branch-free binary searches in lock step, each in its non-empty range
    ``[base[i], base[i] + length[i])`` (the longest ``longest`` keys), until the ranges are
    at most one cache line's keys; returns the halving steps left to each search, which
    ``finish_search`` takes per query.

    Each search prefetches its next probe, so that ``gn`` cache misses are in flight at
    once instead of one.  Every search takes as many halving steps as the longest range
    needs: one that is done keeps probing its last key (a step of zero, in a line
    already cached), which is cheaper than the branch that would skip it, since that
    branch mispredicts whenever the ranges differ in length (at 20K keys, RMI 52.5 ->
    35.8 ns on lognormal keys).  Nor is it cheaper to run each pass only over the
    searches not yet done (sorted by the steps they need): 38% fewer steps on lognormal
    keys, yet 10-14% slower at 10M, since the done searches' steps are what gives the
    others' prefetches time to land.  Only the last ``finish_steps`` (a range of at most
    one line's worth of keys, which may straddle two lines) are left per query.
    """
    cdef int64_t i, half, ln, passes = 0
    cdef int64_t finish = finish_steps(keys)
    cdef const key_t* b
    while (<int64_t>1 << passes) < longest:
        passes += 1
    while passes > finish:
        passes -= 1
        for i in range(gn):
            ln = length[i]
            half = ln >> 1
            b = probe_step(base[i], half, xs[i])
            ln -= half
            base[i] = b
            length[i] = ln
            LIDX_PREFETCH(b + (ln >> 1))
    return passes


cdef inline int64_t finish_search(const key_t* keys, const key_t* b, int64_t ln, key_t x, int64_t steps) noexcept nogil:
    """The last ``steps`` halving steps of one search left by ``lockstep_passes`` (its
    state in registers), and its answer as a position in ``keys``."""
    cdef int64_t k, half
    for k in range(steps):
        half = ln >> 1
        b = probe_step(b, half, x)
        ln -= half
    return (b - keys) + (b[0] < x)


cdef inline void search_passes(const key_t* keys, const key_t** base, int64_t* length, const key_t* xs,
                               int64_t gn, int64_t longest, int64_t* out) noexcept nogil:
    """Lower bounds of ``gn`` targets, each in its non-empty range ``[base[i], base[i] +
    length[i])`` (the longest ``longest`` keys), searched in lock step
    (``lockstep_passes``, then ``finish_search``); ``out[i]`` is a position in ``keys``.
    """
    cdef int64_t i, steps = lockstep_passes(keys, base, length, xs, gn, longest)
    for i in range(gn):
        out[i] = finish_search(keys, base[i], length[i], xs[i], steps)


cdef inline int64_t clamp_to(int64_t v, int64_t a, int64_t b) noexcept nogil:
    """``v`` clamped to ``[a, b]`` (``a`` if ``b < a``)."""
    v = v if v < b else b
    return v if v > a else a


@cython.cdivision(True)
cdef inline void near_step(const key_t* keys, int64_t pos, key_t x, int64_t* a, int64_t* b) noexcept nogil:
    """Narrow a lower bound's range ``[a, b]`` (``a <= pos < b`` is required: both probes
    lie in ``[a, b - 1]``) with the cache line holding key ``pos``: its first and last
    keys, clamped into that range, say whether the answer is left of the line, inside it or
    right of it.  Both reads hit one line fill (for a key array aligned to its item
    size, as numpy allocates; a byte-misaligned view is searched right, with the two
    reads possibly in two lines).  When the answer is inside (a model's prediction
    mostly lands in the answer's own line), the rest of the search stays in that line."""
    cdef int64_t per_line = 64 // <int64_t>sizeof(key_t)
    cdef int64_t skew = <int64_t>((<uintptr_t>keys & 63) // sizeof(key_t))   # keys[0]'s slot in its line
    cdef int64_t first = ((pos + skew) & -per_line) - skew
    cdef int64_t j1 = first if first > a[0] else a[0]                   # <= pos <= b - 1
    cdef int64_t j2 = first + per_line - 1 if first + per_line - 1 < b[0] - 1 else b[0] - 1   # >= pos >= a
    cdef int64_t m1 = -<int64_t>(keys[j1] < x), m2 = -<int64_t>(keys[j2] < x)
    cdef int64_t lo = a[0] + ((j1 + 1 - a[0]) & m1)
    cdef int64_t hi = j1 + ((j2 - j1) & m1)
    a[0] = lo + ((j2 + 1 - lo) & m2)
    b[0] = hi + ((b[0] - hi) & m2)


cdef inline int64_t search_near(const key_t* keys, int64_t n, const int64_t* lo, const int64_t* hi,
                                const int64_t* pos, const key_t* xs, int64_t gn, bint equal_only,
                                int64_t* out) noexcept nogil:
    """Verified lower bounds of ``gn`` targets into ``out``, each searched first in its
    non-empty window ``[lo[i], hi[i])`` (the answer in ``[lo[i], hi[i]]`` when the window
    holds it), starting from the cache line of a predicted position ``lo[i] <= pos[i] <
    hi[i]`` (already prefetched) instead of the window's middle; returns the number of
    windows that missed and were repaired (``verify``).  With ``equal_only`` an answer
    becomes -1 unless the key there equals its target (``lookup``: that key's line was
    just searched, so the check costs no extra miss).

    ``near_step`` reads the predicted line; what is left of the window, the inside of
    that line or one side of it, is binary-searched in lock step (``lockstep_passes``).
    A model's error is mostly far below its leaf's worst case, so the answer is often in
    the predicted line (45% of lookups with a 16K-leaf RMI on 10M uniform keys, 35% on
    lognormal) and its search then reads no other line.  The pass costs what the
    binary search's first step did, since that step also read about the predicted line.
    Every probe lies inside the range still open, so the answer is the window's lower
    bound, as a plain binary search of the window gives it.  A range that near_step
    emptied probes one readable key: at its start, which is then the answer, that key
    is ``>= x`` unless the range was emptied at the window's end (all keys of the line
    ``< x``), where the answer is capped at the window's end.  Each query's last
    steps, its verification and its output are one loop, so no state is stored and
    loaded again between them.
    """
    cdef int64_t i, a, b, h, ln, r, steps, longest = 0, fallbacks = 0
    cdef int64_t length[GROUP]
    cdef const key_t* base[GROUP]
    cdef key_t x
    for i in range(gn):
        a = lo[i]
        b = hi[i]
        near_step(keys, pos[i], xs[i], &a, &b)
        ln = b - a if b > a else 1                   # an empty range searches one readable key
        base[i] = keys + (a if a < n else n - 1)     # (a >= lo[i] >= 0), then takes its start as the answer
        length[i] = ln
        longest = longest if longest > ln else ln
        LIDX_PREFETCH(base[i] + (ln >> 1))
    steps = lockstep_passes(keys, base, length, xs, gn, longest)
    for i in range(gn):
        x = xs[i]
        r = finish_search(keys, base[i], length[i], x, steps)
        h = hi[i]
        r = r if r < h else h                        # (an emptied range's answer past the window's end)
        r = verify(keys, n, x, r, lo[i], h, &fallbacks)
        if equal_only and (r >= n or keys[r] != x):
            r = -1
        out[i] = r
    return fallbacks


cdef inline void search_fixed(const key_t* keys, const key_t** base, int64_t length, const key_t* xs,
                              int64_t gn, int64_t* out) noexcept nogil:
    """``search_passes`` for ranges that all have the same ``length`` (B-tree pages):
    one shared step size, so no per-query length is loaded, halved and stored.  All
    steps stay in lock step: finishing the last ``finish_steps`` per query, as there,
    made the B-tree 10-18% slower (its 16-key pages span two lines, one of them not
    prefetched, whose misses then stall one query at a time)."""
    cdef int64_t i, half
    cdef const key_t* b
    if length <= 0:
        for i in range(gn):
            out[i] = base[i] - keys
        return
    while length > 1:
        half = length >> 1
        length -= half
        for i in range(gn):
            b = probe_step(base[i], half, xs[i])
            base[i] = b
            LIDX_PREFETCH(b + (length >> 1))
    for i in range(gn):
        out[i] = (base[i] - keys) + (base[i][0] < xs[i])


cdef inline int64_t gallop(const key_t* keys, int64_t n, key_t x, int64_t start, int direction) noexcept nogil:
    """Exponential search from ``start``: leftwards knowing ``keys[start] >= x``,
    rightwards knowing ``keys[start] < x``."""
    cdef int64_t step = 1, probe, lo, hi
    if direction < 0:
        hi = start
        while True:
            probe = hi - step
            if probe < 0:
                return lower_bound(keys, x, 0, hi)
            if keys[probe] < x:
                return lower_bound(keys, x, probe + 1, hi)
            hi = probe
            step <<= 1
    lo = start + 1
    while True:
        probe = lo + step - 1
        if probe >= n:
            return lower_bound(keys, x, lo, n)
        if keys[probe] >= x:
            return lower_bound(keys, x, lo, probe)
        lo = probe + 1
        step <<= 1


cdef inline int64_t verify(const key_t* keys, int64_t n, key_t x, int64_t r, int64_t lo, int64_t hi,
                           int64_t* fallbacks) noexcept nogil:
    """The global lower bound, given the window's answer ``r``: one key read checks it,
    an exponential search from the window's edge repairs a miss."""
    if r == lo and lo > 0 and keys[lo - 1] >= x:
        fallbacks[0] += 1
        return gallop(keys, n, x, lo - 1, -1)
    if r == hi and hi < n and keys[hi] < x:
        fallbacks[0] += 1
        return gallop(keys, n, x, hi, 1)
    return r


cdef class LookupKernel:
    cdef readonly object dtype
    cdef int kind
    cdef const void* keys
    cdef int64_t n
    cdef public int64_t fallbacks
    cdef object _keys_ref
    cdef object _scalar_target
    cdef object _slow

    cdef int _bind_keys(self, keys) except -1
    cdef int64_t _lb_u32(self, uint32_t x) noexcept
    cdef int64_t _lb_u64(self, uint64_t x) noexcept
    cdef int64_t _lb_i32(self, int32_t x) noexcept
    cdef int64_t _lb_i64(self, int64_t x) noexcept
    cdef int64_t _lb_f32(self, float x) noexcept
    cdef int64_t _lb_f64(self, double x) noexcept
    cdef int _target(self, object q, bint right, uint64_t* tu, int64_t* ti, double* tf, bint* exact) except -1
    cdef int64_t _lb_code(self, int code, uint64_t tu, int64_t ti, double tf) except -1
    cdef int64_t _lb_object(self, object target) except -1
    cpdef int64_t searchsorted(self, object q, bint right=*) except -1
    cpdef int64_t lookup(self, object q) except -2
    cdef int _check_kind(self, int kind, int64_t m_targets, int64_t m_out) except -1
