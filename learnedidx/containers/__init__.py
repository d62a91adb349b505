"""Drop-in sortedcontainers replacements for numeric keys, on learned indexes.

``SortedList``, ``SortedSet`` and ``SortedDict`` mirror sortedcontainers' API and
behaviour; keys live in numpy arrays indexed by an :class:`learnedidx.RMI`, updates in a
small sorted buffer and tombstones merged back in amortised ``O(1)`` (see
:mod:`learnedidx.containers._store`).

>>> from learnedidx.containers import SortedList
>>> SortedList([3, 1, 2]).bisect_left(2)
1
"""
from .sorteddict import SortedDict, SortedItemsView, SortedKeysView, SortedValuesView
from .sortedlist import SortedList
from .sortedset import SortedSet

__all__ = ["SortedDict", "SortedList", "SortedSet", "SortedKeysView", "SortedItemsView", "SortedValuesView"]
