# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled lookup base class, the scalar fast-path mixin, and binary search.

``LookupKernel.searchsorted`` / ``lookup`` take one Python number: Python ints (for
integer keys) and floats (for float keys, and ints up to 2**53) are reduced to a
target in C; anything else goes through ``learnedidx._queries.scalar_target``, so the
answer is exact for every numeric type.  Subclasses implement ``_lb_*``: the lower
bound of a target of each key dtype.
"""
from libc.stdint cimport INT64_MAX, UINT64_MAX
from libc.math cimport nextafter, nextafterf, isnan, INFINITY
from libc.float cimport FLT_MAX
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsUnsignedLongLong
from cpython.float cimport PyFloat_AS_DOUBLE

import numpy as np

KIND_OF = {"uint32": K_U32, "uint64": K_U64, "int32": K_I32, "int64": K_I64,
           "float32": K_F32, "float64": K_F64}


cdef inline int int_target(object q, int kind, bint right, uint64_t* tu, int64_t* ti, bint* exact) except -1:
    """Exact target of a Python int ``q`` for integer keys; returns TARGET/BELOW/ABOVE."""
    cdef int ovf = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(q, &ovf)
    cdef unsigned long long uv
    exact[0] = not right
    if ovf < 0:
        return BELOW
    if ovf > 0:
        if kind != K_U64:
            return ABOVE
        try:
            uv = PyLong_AsUnsignedLongLong(q)
        except OverflowError:
            return ABOVE
        if right:
            if uv == UINT64_MAX:
                return ABOVE
            uv += 1
        tu[0] = uv
        return TARGET
    if right:
        if v == INT64_MAX:
            if kind == K_U64:
                tu[0] = <uint64_t>INT64_MAX + 1
                return TARGET
            return ABOVE
        v += 1
    if kind == K_U32 or kind == K_U64:
        if v < 0:
            return BELOW
        if kind == K_U32 and v > 0xFFFFFFFF:
            return ABOVE
        tu[0] = <uint64_t>v
        return TARGET
    if kind == K_I32:
        if v < -2147483648:
            return BELOW
        if v > 2147483647:
            return ABOVE
    ti[0] = v
    return TARGET


cdef inline int float_target(double v, int kind, bint right, double* tf, bint* exact) noexcept:
    """Exact target of a float ``v`` for float keys; returns TARGET/ABOVE."""
    cdef float f
    if isnan(v):
        return ABOVE
    if kind == K_F64:
        exact[0] = True
        if right:
            if v == INFINITY:
                return ABOVE
            v = nextafter(v, INFINITY)
            exact[0] = False
        tf[0] = v
        return TARGET
    # float32 keys: the smallest float32 >= v
    if v > FLT_MAX:
        f = INFINITY
    elif v < -FLT_MAX:
        f = -INFINITY if v == -INFINITY else -FLT_MAX
    else:
        f = <float>v
        if <double>f < v:
            f = nextafterf(f, INFINITY)
    exact[0] = <double>f == v
    if right and exact[0]:
        if f == INFINITY:
            return ABOVE
        f = nextafterf(f, INFINITY)
        exact[0] = False
    tf[0] = <double>f
    return TARGET


cdef class LookupKernel:
    """Base of the compiled indexes: exact scalar lookups of any Python number."""

    cdef int _bind_keys(self, keys) except -1:
        """Point the kernel at ``keys`` (kept alive, never copied)."""
        from learnedidx._queries import scalar_target
        cdef const unsigned char[::1] kb = keys.view(np.uint8)
        self.kind = KIND_OF[keys.dtype.name]
        self.dtype = keys.dtype
        self._keys_ref = keys
        self._scalar_target = scalar_target
        self.keys = &kb[0] if kb.shape[0] else NULL
        self.n = keys.shape[0]
        self.fallbacks = 0
        return 0

    cdef int64_t _lb_u32(self, uint32_t x) noexcept:
        return 0
    cdef int64_t _lb_u64(self, uint64_t x) noexcept:
        return 0
    cdef int64_t _lb_i32(self, int32_t x) noexcept:
        return 0
    cdef int64_t _lb_i64(self, int64_t x) noexcept:
        return 0
    cdef int64_t _lb_f32(self, float x) noexcept:
        return 0
    cdef int64_t _lb_f64(self, double x) noexcept:
        return 0

    cdef int _target(self, object q, bint right, uint64_t* tu, int64_t* ti, double* tf, bint* exact) except -1:
        """Reduce ``q`` to a target; when C cannot, ``self._slow`` gets a Python target
        and the code returned has ``SLOW`` added (the scalar path holds the GIL)."""
        cdef int ovf = 0
        cdef long long v
        k = self.kind
        if k <= K_I64:
            if type(q) is int:
                return int_target(q, k, right, tu, ti, exact)
        else:
            if type(q) is float:
                return float_target(PyFloat_AS_DOUBLE(q), k, right, tf, exact)
            if type(q) is int:
                v = PyLong_AsLongLongAndOverflow(q, &ovf)
                if ovf == 0 and -9007199254740992 <= v <= 9007199254740992:
                    return float_target(<double>v, k, right, tf, exact)
        code, target, ex = self._scalar_target(self.dtype, q, right)
        exact[0] = ex
        self._slow = target
        return code + SLOW

    cdef int64_t _lb_object(self, object target) except -1:
        k = self.kind
        if k == K_U32:
            return self._lb_u32(<uint32_t>target)
        elif k == K_U64:
            return self._lb_u64(<uint64_t>target)
        elif k == K_I32:
            return self._lb_i32(<int32_t>target)
        elif k == K_I64:
            return self._lb_i64(<int64_t>target)
        elif k == K_F32:
            return self._lb_f32(<float>target)
        return self._lb_f64(<double>target)

    cdef int64_t _lb_code(self, int code, uint64_t tu, int64_t ti, double tf) except -1:
        if code >= SLOW:
            code -= SLOW
            if code == TARGET:
                return self._lb_object(self._slow)
        if code == BELOW or self.n == 0:
            return 0
        if code == ABOVE:
            return self.n
        k = self.kind
        if k == K_U32:
            return self._lb_u32(<uint32_t>tu)
        elif k == K_U64:
            return self._lb_u64(tu)
        elif k == K_I32:
            return self._lb_i32(<int32_t>ti)
        elif k == K_I64:
            return self._lb_i64(ti)
        elif k == K_F32:
            return self._lb_f32(<float>tf)
        return self._lb_f64(tf)

    cpdef int64_t searchsorted(self, object q, bint right=False) except -1:
        """``searchsorted(keys, q, side)`` for one Python number; returns a Python int."""
        cdef uint64_t tu = 0
        cdef int64_t ti = 0
        cdef double tf = 0.0
        cdef bint exact = False
        return self._lb_code(self._target(q, right, &tu, &ti, &tf, &exact), tu, ti, tf)

    cpdef int64_t lookup(self, object q) except -2:
        """Position of the first key equal to ``q``, or -1."""
        cdef uint64_t tu = 0
        cdef int64_t ti = 0
        cdef double tf = 0.0
        cdef bint exact = False
        cdef int code = self._target(q, False, &tu, &ti, &tf, &exact)
        cdef int64_t p
        if not exact or (code & (SLOW - 1)) != TARGET:
            return -1
        p = self._lb_code(code, tu, ti, tf)
        if p >= self.n:
            return -1
        if code >= SLOW:
            return p if self._keys_ref.item(p) == self._slow else -1
        k = self.kind
        if k == K_U32:
            return p if (<const uint32_t*>self.keys)[p] == tu else -1
        elif k == K_U64:
            return p if (<const uint64_t*>self.keys)[p] == tu else -1
        elif k == K_I32:
            return p if (<const int32_t*>self.keys)[p] == ti else -1
        elif k == K_I64:
            return p if (<const int64_t*>self.keys)[p] == ti else -1
        elif k == K_F32:
            return p if (<const float*>self.keys)[p] == tf else -1
        return p if (<const double*>self.keys)[p] == tf else -1

    cdef int _check_kind(self, int kind, int64_t m_targets, int64_t m_out) except -1:
        """Batch arguments: targets of the key dtype, one output slot per target."""
        if kind != self.kind:
            raise TypeError(f"targets must have the key dtype {self.dtype}")
        if m_targets != m_out:
            raise ValueError("out must have one slot per target")
        return 0


# The default ``threads=1``: only it takes the fast path (any other value is validated).
cdef object _ONE = 1


cdef class CompiledLookups:
    """Scalar fast paths of a compiled index class (``RMI``, ``BTree``, ...).

    ``searchsorted``, ``lookup`` and ``in`` send one Python int or float straight to
    the attached kernel in C (no Python frame on the way); anything else goes to the
    subclass's Python methods ``_searchsorted``, ``_lookup`` and ``_contains``.
    ``learnedidx.interface.PythonLookups`` is the pure-Python twin used without the build.
    """
    cdef LookupKernel _k

    def _attach_kernel(self, LookupKernel kernel):
        self._k = kernel

    def searchsorted(self, v, side="left", *, threads=1):
        """Exactly ``numpy.searchsorted(keys, v, side)`` for a scalar or an array ``v``."""
        cdef LookupKernel k = self._k
        if k is not None and (type(v) is int or type(v) is float) and threads is _ONE:
            if side == "left":
                return k.searchsorted(v, False)
            if side == "right":
                return k.searchsorted(v, True)
        return self._searchsorted(v, side, threads)

    def lookup(self, v, *, threads=1):
        """Position of the first key equal to ``v``, or -1 (vectorised for arrays)."""
        cdef LookupKernel k = self._k
        if k is not None and (type(v) is int or type(v) is float) and threads is _ONE:
            return k.lookup(v)
        return self._lookup(v, threads)

    def __contains__(self, v):
        cdef LookupKernel k = self._k
        if k is not None and (type(v) is int or type(v) is float):
            return k.lookup(v) >= 0
        return self._contains(v)


# --------------------------------------------------------------- binary search

cdef enum:
    # Whole-array searches touch ~log2(n) lines per query: 16 in lock step keep the memory
    # system busiest (measured at 10M keys: 137 ns at 16, 214 ns at 64 per lookup).
    BS_GROUP = 16


cdef void binary_search_many(const key_t* keys, int64_t n, const key_t* xs, int64_t m, int64_t* out) noexcept nogil:
    """Interleaved branch-free lower bounds over the whole array, ``BS_GROUP`` at a time."""
    cdef int64_t g0 = 0, gn, i
    cdef const key_t* base[BS_GROUP]
    while g0 < m:
        gn = m - g0 if m - g0 < BS_GROUP else BS_GROUP
        for i in range(gn):
            base[i] = keys
        search_fixed(keys, base, n, xs + g0, gn, out + g0)     # every query's range: all n keys
        g0 += gn


cdef class BinarySearchKernel(LookupKernel):
    """Model-free compiled lower bounds: branch-free binary search over all keys."""

    def __init__(self, keys):
        self._bind_keys(keys)

    cdef int64_t _lb_u32(self, uint32_t x) noexcept:
        return lower_bound(<const uint32_t*>self.keys, x, 0, self.n)
    cdef int64_t _lb_u64(self, uint64_t x) noexcept:
        return lower_bound(<const uint64_t*>self.keys, x, 0, self.n)
    cdef int64_t _lb_i32(self, int32_t x) noexcept:
        return lower_bound(<const int32_t*>self.keys, x, 0, self.n)
    cdef int64_t _lb_i64(self, int64_t x) noexcept:
        return lower_bound(<const int64_t*>self.keys, x, 0, self.n)
    cdef int64_t _lb_f32(self, float x) noexcept:
        return lower_bound(<const float*>self.keys, x, 0, self.n)
    cdef int64_t _lb_f64(self, double x) noexcept:
        return lower_bound(<const double*>self.keys, x, 0, self.n)

    def lower_bound_batch(self, const key_t[::1] targets, int64_t[::1] out):
        """Lower bounds of ``targets`` (the key dtype) into ``out``; releases the GIL."""
        cdef int64_t m = targets.shape[0]
        self._check_kind(fused_kind(<const key_t*>NULL), m, out.shape[0])
        if m:
            with nogil:
                binary_search_many(<const key_t*>self.keys, self.n, &targets[0], m, &out[0])
        return 0
