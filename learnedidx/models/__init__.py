"""Model families for RMI stages, one per module, behind :class:`~.base.Model`.

>>> get_model("cubic").name
'cubic'
>>> get_model("quadratic")
Traceback (most recent call last):
...
ValueError: unknown model 'quadratic'; choose one of: cubic, linear, loglinear, mlp, radix, spline
"""
from __future__ import annotations

from .base import Model
from .cubic import Cubic
from .linear import Linear
from .loglinear import LogLinear
from .mlp import MLP
from .radix import Radix
from .spline import Spline

#: Registered model families by name.
MODELS: dict[str, type] = {m.name: m for m in (Linear, Spline, Cubic, Radix, LogLinear, MLP)}


def get_model(name: str) -> type:
    """The model class registered as ``name``; ``ValueError`` lists the valid names."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}") from None


__all__ = ["Model", "MODELS", "get_model", "Linear", "Spline", "Cubic", "Radix", "LogLinear", "MLP"]
