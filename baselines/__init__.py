"""Baselines behind the same interface as the learned indexes.

``BTree`` is a cache-aware static B+-tree compiled like the RMI; the peers adapt the
tools users would otherwise pick.  ``INDEXES`` maps report names to classes, so a
benchmark is a loop over them.

>>> sorted(INDEXES)[:3]
['BTree', 'BTrees', 'BinarySearch']
"""
from learnedidx import RMI

from .btree import BTree
from .peers import (BinarySearch, BTreesIndex, InterleavedBinarySearch, PyGMIndex, SortedBinarySearch,
                    SortedContainersIndex)

#: Every index by its report name (our own and the peers).
INDEXES = {cls.name: cls for cls in (RMI, BTree, BinarySearch, InterleavedBinarySearch, SortedBinarySearch,
                                     SortedContainersIndex, PyGMIndex, BTreesIndex)}

__all__ = ["INDEXES", "BTree", "BinarySearch", "InterleavedBinarySearch", "SortedBinarySearch",
           "SortedContainersIndex", "PyGMIndex", "BTreesIndex"]
