"""The one exception a bad file raises."""
from __future__ import annotations


class FormatError(ValueError):
    """A file that is not a valid learnedidx file: what is wrong, and where.

    Raised by :func:`learnedidx.load` for every defect of an untrusted file (wrong
    magic, unknown version, truncation, a bad offset, length or dtype, a checksum
    mismatch, a state its type rejects), never another exception.

    >>> issubclass(FormatError, ValueError)
    True
    """
