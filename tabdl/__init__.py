"""tabdl: deep learning on tabular data with scikit-learn estimators and fast.ai practice.

Public names load lazily (PEP 562): a fitted ``EntityEmbeddingEncoder`` unpickles and transforms
without importing torch, so ``import tabdl`` must not import the estimators eagerly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Public name -> submodule that defines it. Add new public names here, not as eager imports.
_LAZY = {
    "EntityEmbeddingEncoder": "embeddings",
    "MatrixFactorization": "collab",
    "TabularClassifier": "estimators",
    "TabularRegressor": "estimators",
    "load": "io",
}

__all__ = [
    "EntityEmbeddingEncoder",
    "MatrixFactorization",
    "TabularClassifier",
    "TabularRegressor",
    "__version__",
    "load",
]

if TYPE_CHECKING:
    from .collab import MatrixFactorization
    from .embeddings import EntityEmbeddingEncoder
    from .estimators import TabularClassifier, TabularRegressor
    from .io import load


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
