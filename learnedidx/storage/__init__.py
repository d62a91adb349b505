"""Persistence: one safe, self-describing file format, memory-mapped loading.

``save(obj, path)`` / ``load(path, mmap=True, verify=None)`` for every savable type;
``info(path)`` describes a file; :class:`FormatError` is the one exception a bad file
raises.  The bytes are specified in ``docs/FORMAT.md``.
"""
from .errors import FormatError
from .persist import info, load, save

__all__ = ["FormatError", "info", "load", "save"]
