"""Type tags written in a file, and the classes they stand for (an allow-list).

A file names its type by a short tag (``"RMI"``); loading resolves the tag through
this fixed table of ``module:class`` paths, imported lazily, and never through a
name read from the file: an unknown tag is a :class:`FormatError`, so a file cannot
make the loader import or call anything else.  The B-tree lives in
``learnedidx.baselines``, which the library does not import at module level; it is
imported here only when a file says ``"BTree"`` (or when saving one, it is already
imported).  Saving looks up the object's exact class (subclasses are refused: their
state may differ).

>>> resolve("RMI").__name__
'RMI'
>>> resolve("os.system")
Traceback (most recent call last):
...
learnedidx.storage.errors.FormatError: unknown type tag 'os.system' (known: RMI, BTree, KeyValueIndex, SortedList, SortedSet, SortedDict)
"""
from __future__ import annotations

import importlib
import sys

from .errors import FormatError

#: tag -> "module:class".  Adding a savable type means adding one line here.
TYPES = {
    "RMI": "learnedidx.rmi:RMI",
    "BTree": "learnedidx.baselines.btree:BTree",
    "KeyValueIndex": "learnedidx.kv:KeyValueIndex",
    "SortedList": "learnedidx.containers:SortedList",
    "SortedSet": "learnedidx.containers:SortedSet",
    "SortedDict": "learnedidx.containers:SortedDict",
}


def resolve(tag: str) -> type:
    """The class a file's type tag stands for (``FormatError`` if unknown or not installed)."""
    if tag not in TYPES:
        raise FormatError(f"unknown type tag {tag!r} (known: {', '.join(TYPES)})")
    module, _, name = TYPES[tag].partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise FormatError(f"type {tag!r} is not available in this installation ({exc})") from None


def tag_of(obj) -> str:
    """The tag to save ``obj`` under, or ``TypeError`` naming the savable types.

    >>> import numpy as np, learnedidx
    >>> tag_of(learnedidx.RMI(np.arange(4)))
    'RMI'
    """
    cls = type(obj)
    for tag, path in TYPES.items():
        module, _, name = path.partition(":")
        loaded = sys.modules.get(module)           # the object's class is imported already
        if loaded is not None and getattr(loaded, name, None) is cls:
            return tag
    raise TypeError(f"cannot save a {cls.__module__}.{cls.__qualname__}: savable types are "
                    f"{', '.join(TYPES)} (exactly these classes, not subclasses)")
