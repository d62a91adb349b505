"""learnedidx: learned index structures for sorted numeric keys, with exact answers.

>>> import numpy as np, learnedidx
>>> idx = learnedidx.RMI(np.array([3, 8, 8, 15], dtype=np.int64))
>>> idx.searchsorted(8), idx.searchsorted(8, side="right")
(1, 3)
"""
from .containers import SortedDict, SortedItemsView, SortedKeysView, SortedList, SortedSet, SortedValuesView
from .kv import KeyValueIndex
from .rmi import RMI
from .storage import FormatError, load, save
from .tuning import tune

__version__ = "0.1.0"
__all__ = ["RMI", "KeyValueIndex", "FormatError", "save", "load", "SortedList", "SortedSet", "SortedDict",
           "SortedKeysView", "SortedItemsView", "SortedValuesView", "tune", "__version__"]
