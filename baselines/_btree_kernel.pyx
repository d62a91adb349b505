# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled B+-tree lookups (see ``btree.py`` for the layout).

Same execution regime as the RMI's kernels, so comparisons are fair: scalar lookups
reduce one Python number in C (``LookupKernel``) and walk the levels; batch lookups
release the GIL and descend ``BTREE_GROUP`` queries level by level in lock step (each node
search a branch-free count over one cache line, the next node prefetched), then search
their pages with an interleaved branch-free binary search.
"""
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

from learnedidx._kernels.lookup cimport (
    LIDX_PREFETCH, LookupKernel, fused_kind, key_t, lower_bound, prefetch_window, search_fixed,
)

cdef enum:
    BTREE_GROUP = 48    # queries per lock step: the RMI's 64 measured 1-4% slower for the B-tree
                        # once the RMI's groups were pipelined and re-tuned (same-process A/B at
                        # 10M keys, bench/RESULTS.md, "Pipelined groups"); the RMI keeps 64


cdef struct Tree:
    const void* keys
    int64_t n
    const void* inner
    const int64_t* offsets
    int64_t height
    int64_t fanout
    int64_t page_keys


cdef inline int64_t count_below(const key_t* node, int64_t fanout, key_t x) noexcept nogil:
    """Number of entries of one node below ``x`` (branch-free; vectorises)."""
    cdef int64_t j, c = 0
    for j in range(fanout):
        c += node[j] < x
    return c


cdef inline int64_t descend(const Tree* t, key_t x) noexcept nogil:
    """Page of target ``x`` (which must not exceed the last key)."""
    cdef const key_t* inner = <const key_t*>t.inner
    cdef int64_t lvl, node = 0, B = t.fanout
    for lvl in range(t.height):
        node = node * B + count_below(inner + t.offsets[lvl] + node * B, B, x)
    return node


cdef inline int64_t lower_bound_tree(const Tree* t, key_t x) noexcept nogil:
    cdef const key_t* keys = <const key_t*>t.keys
    cdef int64_t page, lo, hi
    if x > keys[t.n - 1]:
        return t.n
    page = descend(t, x)
    lo = page * t.page_keys
    hi = lo + t.page_keys
    return lower_bound(keys, x, lo, hi if hi < t.n else t.n)


cdef void lower_bound_tree_many(const Tree* t, const key_t* xs, int64_t m, int64_t* out) noexcept nogil:
    cdef const key_t* keys = <const key_t*>t.keys
    cdef const key_t* inner = <const key_t*>t.inner
    cdef key_t last = keys[t.n - 1]
    cdef int64_t g0 = 0, gn, i, lvl, B = t.fanout, pk = t.page_keys, lo
    cdef int64_t width = pk if pk < t.n else t.n
    cdef int64_t last_page = t.n - width
    cdef int64_t node[BTREE_GROUP]
    cdef int64_t r[BTREE_GROUP]
    cdef key_t xq[BTREE_GROUP]
    cdef const key_t* base[BTREE_GROUP]
    cdef key_t x
    while g0 < m:
        gn = m - g0 if m - g0 < BTREE_GROUP else BTREE_GROUP
        for i in range(gn):
            x = xs[g0 + i]
            xq[i] = x if x <= last else last           # targets above the keys answer n below
            node[i] = 0
        for lvl in range(t.height):
            for i in range(gn):
                node[i] = node[i] * B + count_below(inner + t.offsets[lvl] + node[i] * B, B, xq[i])
                if lvl + 1 < t.height:
                    LIDX_PREFETCH(inner + t.offsets[lvl + 1] + node[i] * B)
                else:
                    prefetch_window(keys + node[i] * pk, pk * <int64_t>sizeof(key_t))
        for i in range(gn):                 # the last page, if short, is searched as the last pk keys
            lo = node[i] * pk
            base[i] = keys + (lo if lo < last_page else last_page)
        search_fixed(keys, base, width, xq, gn, r)
        for i in range(gn):
            out[g0 + i] = t.n if xs[g0 + i] > last else r[i]
        g0 += gn


cdef class BTreeKernel(LookupKernel):
    """Compiled lookups over a ``BTree``'s arrays (kept alive, never copied)."""
    cdef Tree t
    cdef object _refs

    def __init__(self, keys, inner, offsets, int64_t fanout, int64_t page_keys):
        cdef const unsigned char[::1] ib = inner.view("uint8")
        cdef const int64_t[::1] ob = offsets
        if keys.shape[0] == 0:
            raise ValueError("a B-tree kernel needs at least one key")
        if inner.dtype != keys.dtype:
            raise TypeError("inner nodes must have the key dtype")
        self._bind_keys(keys)
        self._refs = (inner, offsets)
        self.t.keys = self.keys
        self.t.n = self.n
        self.t.inner = &ib[0]
        self.t.offsets = &ob[0]
        self.t.height = offsets.shape[0]
        self.t.fanout = fanout
        self.t.page_keys = page_keys

    cdef int64_t _lb_u32(self, uint32_t x) noexcept:
        return lower_bound_tree(&self.t, x)
    cdef int64_t _lb_u64(self, uint64_t x) noexcept:
        return lower_bound_tree(&self.t, x)
    cdef int64_t _lb_i32(self, int32_t x) noexcept:
        return lower_bound_tree(&self.t, x)
    cdef int64_t _lb_i64(self, int64_t x) noexcept:
        return lower_bound_tree(&self.t, x)
    cdef int64_t _lb_f32(self, float x) noexcept:
        return lower_bound_tree(&self.t, x)
    cdef int64_t _lb_f64(self, double x) noexcept:
        return lower_bound_tree(&self.t, x)

    def lower_bound_batch(self, const key_t[::1] targets, int64_t[::1] out):
        """Lower bounds of ``targets`` (the key dtype) into ``out``; releases the GIL."""
        cdef int64_t m = targets.shape[0]
        self._check_kind(fused_kind(<const key_t*>NULL), m, out.shape[0])
        if m:
            with nogil:
                lower_bound_tree_many(&self.t, &targets[0], m, &out[0])
        return 0
