"""tabdl: deep learning on tabular data with scikit-learn estimators and fast.ai practice."""

from .collab import MatrixFactorization
from .estimators import TabularClassifier, TabularRegressor
from .io import load

__version__ = "0.1.0"

__all__ = ["MatrixFactorization", "TabularClassifier", "TabularRegressor", "__version__", "load"]
