"""Save and load fitted models as one zip file that never needs pickle.

A file holds two members:

- ``meta.json``: the format version, the tabdl and torch versions, the estimator's class name,
  its ``get_params()``, and its fitted state (column roles, vocabularies, fill values, scaling
  stats, class order, target stats, ...) as plain JSON;
- ``weights.pt``: the module's ``state_dict``, read back with ``torch.load(weights_only=True)``,
  which only builds tensors and containers, never arbitrary objects.

Python values that JSON lacks (tuples, slices, numpy arrays with their dtype, DataFrames,
non-finite floats, dicts with non-string keys) are written as small tagged objects and rebuilt
by a decoder that knows only those tags, so loading a file cannot run code.

Model kinds plug in through ``register(class_name, module, to_state, from_state)``:
``to_state(model) -> (state: dict, tensors: dict[str, Tensor])`` and
``from_state(cls, state, tensors) -> model``. The class is found by name in the registry only.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import math
import os
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

# NOTE torch is imported inside the functions that use it: estimators take ``save`` from
# SaveMixin here, and a fitted EntityEmbeddingEncoder must import (and unpickle) without torch.

__all__ = [
    "save",
    "load",
    "register",
    "SaveMixin",
    "FORMAT_VERSION",
    "encode",
    "decode",
    "build_with_weights",
]

FORMAT = "tabdl"
# Bump when a file written by this version cannot be read by an older reader (or vice versa),
# and keep reading the older versions this reader still understands.
# 2: the preprocessor may pin continuous columns that never varied at fit ("constant" and
#    "all_missing" in its stats); a version 1 reader would ignore them and predict otherwise. The
#    first bags of nets (n_bags) were written as version 1 files too, and readers from before
#    bags fail on them. Every version 1 file reads as it always did.
# 3: a net may pass its two-valued continuous columns raw ("raw_cont" in its config, index
#    buffers in its weights), which a version 2 reader cannot build; only such files are written
#    as version 3 (the others stay readable by version 2 readers).
# 4: Timestamps (column names from a pivot over dates, date ids) are stored as tagged ISO text,
#    which older readers would take for a dict, and datetime / duration arrays (such class labels)
#    as numpy's ISO text / int counts; only files that hold one are written as version 4.
FORMAT_VERSION = 4
READS_VERSIONS = (1, 2, 3, 4)
_META, _WEIGHTS = "meta.json", "weights.pt"


# >>> JSON encoding of the Python values estimators hold
_TAGS = ("__tuple__", "__slice__", "__ndarray__", "__frame__", "__float__", "__items__", "__timestamp__")
# numpy dtype kinds an array may be stored with: bool, ints, floats, unicode, object (of JSON
# values), datetimes (as numpy's own ISO text, which it parses back exactly) and durations (as
# their int counts in their unit): datetime or duration class labels
_ARRAY_KINDS = "biufUOMm"


def encode(obj: Any, where: str = "value") -> Any:
    """A JSON-safe version of ``obj``; ``where`` names it in the error for unsupported types."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(obj, (pd.Timestamp, np.datetime64)) and not pd.isna(obj):
        # Column names from a pivot over dates, ids that are dates: ISO text with its UTC offset,
        # and the zone's name (the offset alone would print as another zone)
        ts = pd.Timestamp(obj)
        return {"__timestamp__": ts.isoformat(), "tz": None if ts.tz is None else str(ts.tz)}
    if isinstance(obj, list):
        return [encode(v, where) for v in obj]
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, where) for v in obj]}
    if isinstance(obj, slice):
        return {"__slice__": [encode(v, where) for v in (obj.start, obj.stop, obj.step)]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in obj):
            return {k: encode(v, f"{where}[{k!r}]") for k, v in obj.items()}
        return {
            "__items__": [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]
        }
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"{where}: cannot store an array of dtype {obj.dtype} in a tabdl file")
        dtype = "object" if obj.dtype.kind == "O" else obj.dtype.str
        kind = obj.dtype.kind
        flat = (obj.ravel().astype(str) if kind == "M" else obj.ravel().view(np.int64) if kind == "m"
                else obj.ravel()).tolist()
        return {
            "__ndarray__": encode(flat, where),
            "dtype": dtype,
            "shape": list(obj.shape),
        }
    if isinstance(obj, pd.DataFrame):
        cols = {}
        for i in range(obj.shape[1]):
            col = obj.iloc[:, i]
            numeric = isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf"
            cols[str(i)] = encode(col.to_numpy() if numeric else col.to_numpy(dtype=object), where)
        return {
            "__frame__": {
                "columns": encode(list(obj.columns), where),
                "index": encode(obj.index.to_numpy(), where),
                "data": cols,
            }
        }
    raise ValueError(
        f"{where}: cannot store a {type(obj).__name__} in a tabdl file (JSON values only)"
    )


def decode(obj: Any) -> Any:
    """Inverse of ``encode``; builds only lists, dicts, tuples, slices, arrays and frames."""
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tuple__" in obj:
        return tuple(decode(v) for v in obj["__tuple__"])
    if "__slice__" in obj:
        return slice(*(decode(v) for v in obj["__slice__"]))
    if "__float__" in obj:
        return float(obj["__float__"])  # "nan", "inf", "-inf"
    if set(obj) == {"__timestamp__", "tz"} and isinstance(obj["__timestamp__"], str):
        # By its whole shape: files before version 4 hold a user's {"__timestamp__": ...} as a plain dict
        ts = pd.Timestamp(obj["__timestamp__"])
        try:
            return ts.tz_convert(obj["tz"]) if obj.get("tz") else ts
        except (ValueError, TypeError, KeyError):  # a zone this machine's tz database lacks: the offset
            return ts
    if "__items__" in obj:
        return {_hashable(decode(k)): decode(v) for k, v in obj["__items__"]}
    if "__ndarray__" in obj:
        flat, shape = decode(obj["__ndarray__"]), tuple(obj["shape"])
        dtype = np.dtype(obj["dtype"])
        if dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"array dtype {dtype} is not allowed in a tabdl file")
        if dtype.kind == "M":
            return np.array(flat, dtype=dtype).reshape(shape)
        if dtype.kind == "m":
            return np.array(flat, dtype=np.int64).view(dtype).reshape(shape)
        if dtype.kind == "O":
            arr = np.empty(len(flat), dtype=object)
            arr[:] = flat
            return arr.reshape(shape)
        return np.asarray(flat, dtype=dtype).reshape(shape)
    if "__frame__" in obj:
        f = obj["__frame__"]
        columns = decode(f["columns"])
        data = {i: decode(f["data"][str(i)]) for i in range(len(columns))}
        df = pd.DataFrame(data, index=decode(f["index"]))
        df.columns = columns
        return df
    return {k: decode(v) for k, v in obj.items()}


def _hashable(k: Any) -> Any:
    return tuple(_hashable(v) for v in k) if isinstance(k, (list, tuple)) else k


# >>> the registry of model kinds
@dataclass(frozen=True)
class _Kind:
    module: str
    to_state: Callable[[Any], tuple[dict[str, Any], dict[str, torch.Tensor]]]
    from_state: Callable[[type, dict[str, Any], dict[str, torch.Tensor]], Any]


_REGISTRY: dict[str, _Kind] = {}


def register(class_name: str, module: str, to_state, from_state) -> None:
    """Make ``module.class_name`` savable. Loading imports only modules named here."""
    _REGISTRY[class_name] = _Kind(module, to_state, from_state)


def _kind_of(name: str) -> tuple[_Kind, type]:
    if name not in _REGISTRY:
        raise ValueError(f"tabdl cannot save or load a {name!r}; known kinds: {sorted(_REGISTRY)}")
    kind = _REGISTRY[name]
    return kind, getattr(importlib.import_module(kind.module), name)


# >>> save / load
def check_save_path(path: str | os.PathLike) -> None:
    """An OSError naming ``path`` when no file can be written there (a folder, or a file in a
    folder that does not exist); the OS error would name save's temporary file instead."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path!r}: the folder {folder!r} does not exist")


def save(model: Any, path: str | os.PathLike) -> str:
    """Write a fitted model to ``path`` (one zip file) and return the path."""
    import torch

    name = type(model).__name__
    kind, cls = _kind_of(name)
    if type(model) is not cls:
        raise ValueError(
            f"tabdl cannot save a {type(model).__qualname__}: only {kind.module}.{name} is registered"
        )
    state, tensors = kind.to_state(model)
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, buf)
    weights = buf.getvalue()
    try:
        encoded = encode(state, name)
    except ValueError as e:
        if "['params']" not in str(e):
            raise
        # A parameter only steers later fits: the fitted model predicts without it.
        raise ValueError(f"{e}. The fitted model does not need it: set_params() it to a JSON value "
                         "(an int or None for random_state, metric names for metrics) and save again") from None
    # The oldest version whose readers read this file right: 4 with a Timestamp or a datetime
    # array, 3 for a net with raw columns, else 2 (a string value that spells a tag only costs a
    # newer version).
    # The state is serialised once: the version is read off its text, then the text is spliced in.
    state_text = json.dumps(encoded, allow_nan=False, separators=(",", ":"))
    version = 4 if '"__timestamp__"' in state_text or '"<M8[' in state_text or '"<m8[' in state_text else 3 if "raw_cont" in (
        getattr(model, "model_config_", None) or {}) else 2
    meta = {
        "format": FORMAT,
        "format_version": version,
        "tabdl_version": _tabdl_version(),
        "torch_version": torch.__version__,
        "class": name,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    text = json.dumps(meta, allow_nan=False, separators=(",", ":"))[:-1] + ',"state":' + state_text + "}"
    path = os.fspath(path)
    check_save_path(path)
    tmp = f"{path}.tmp{os.getpid()}"
    # Written to a temporary file and renamed, so an interrupted save leaves any old file intact.
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_META, text)
            # float weights barely compress, and deflating 100s of MB costs seconds
            zf.writestr(_WEIGHTS, weights, compress_type=zipfile.ZIP_STORED)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load(path: str | os.PathLike) -> Any:
    """Read a model written by ``save``. Raises ValueError for a corrupted, truncated or
    incompatible file."""
    import torch

    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(_META).decode("utf-8"))
            weights = zf.read(_WEIGHTS)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    # A flipped or missing byte surfaces as any of these, depending on where it lands.
    except (
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        EOFError,
        OSError,
        NotImplementedError,
        ValueError,
    ) as e:
        raise ValueError(f"{path!r} is not a readable tabdl file ({_what_file(path)}): {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a tabdl model file")
    version = meta.get("format_version")
    if version not in READS_VERSIONS:
        raise ValueError(
            f"{path!r} has tabdl format version {version!r} (written by tabdl {meta.get('tabdl_version')}); "
            f"this tabdl {_tabdl_version()} reads versions {', '.join(map(str, READS_VERSIONS))}"
        )
    if hashlib.sha256(weights).hexdigest() != meta.get("weights_sha256"):
        raise ValueError(f"{path!r}: the weights do not match their checksum (corrupted file)")
    try:
        tensors = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a bad archive
        raise ValueError(f"{path!r}: cannot read the weights ({type(e).__name__}: {e})") from None
    kind, cls = _kind_of(str(meta.get("class")))
    try:
        return kind.from_state(cls, decode(meta["state"]), tensors)
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError) as e:
        raise ValueError(
            f"{path!r}: the saved {meta['class']} state is inconsistent ({type(e).__name__}: {e})"
        ) from None


def _what_file(path: str) -> str:
    """A guess at what a file that is not a tabdl zip holds, for the error."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return "corrupted or truncated?"
    if head[:1] == b"\x80":  # pickle protocol 2+: joblib.dump or pickle.dump wrote it
        return ("a pickle, from joblib.dump or pickle.dump: read it with joblib.load, which runs "
                "code from the file, so only a file you trust")
    return "corrupted or truncated?"


def _tabdl_version() -> str:
    from . import __version__

    return __version__


def build_with_weights(
    make: Callable[[], torch.nn.Module], tensors: dict[str, torch.Tensor]
) -> torch.nn.Module:
    """``make()`` a module and give it the saved weights, skipping the random init.

    The module is built on the meta device (no memory, no init: a 1M-row embedding table took
    4 s to initialise only to be overwritten) and the loaded tensors are assigned in place; this
    also leaves the global torch RNG untouched. A module with state outside its state_dict
    (non-persistent buffers) would stay on meta, and one whose constructor reads tensor values
    cannot run on meta: those are built the ordinary way.
    """
    import torch

    try:
        with torch.device("meta"):
            model = make()
        model.load_state_dict(tensors, strict=True, assign=True)
        if not any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
            return model
    except (RuntimeError, NotImplementedError):  # a constructor that reads tensor values (.item())
        pass
    with torch.random.fork_rng(devices=[]):
        model = make()
    model.load_state_dict(tensors, strict=True)
    return model


class SaveMixin:
    """Gives an estimator ``save(path)``; ``tabdl.load(path)`` reads it back."""

    def save(self, path: str | os.PathLike) -> str:
        """Write this fitted model to one zip file (JSON metadata + weights; no pickle)."""
        return save(self, path)


# >>> tabular estimators (TabularRegressor, TabularClassifier)
# Fitted attributes that are rebuilt from their own state rather than stored as JSON.
_REBUILT = ("model_", "preprocessor_")


def _plain_params(est: Any) -> dict[str, Any]:
    """``get_params()``, where what fit accepts as a list of columns (X.select_dtypes(...).columns,
    a Series, a set) is the list it stands for, and a torch.device its name."""
    params = est.get_params(deep=False)
    torch = sys.modules.get("torch")  # a torch.device exists only once torch is imported
    for k, v in params.items():
        if isinstance(v, (pd.Index, pd.Series, set, frozenset)):
            params[k] = list(v)
        elif torch is not None and isinstance(v, torch.device):
            params[k] = str(v)
    return params


def _json_params(est: Any) -> dict[str, Any]:
    from .metrics import METRICS, Metric

    params = _plain_params(est)
    if params.get("metrics"):
        # A registered Metric is stored by name (get_metric resolves names); anything else is code.
        params["metrics"] = [
            m.name if isinstance(m, Metric) and METRICS.get(m.name) is m else m
            for m in params["metrics"]
        ]
    return params


def _fitted_attrs(est: Any) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(est).items()
        if k.endswith("_") and not k.startswith("_") and k not in _REBUILT
    }


def _set_fitted_attrs(est: Any, attrs: dict[str, Any]) -> None:
    for k, v in attrs.items():
        if not (isinstance(k, str) and k.endswith("_") and not k.startswith("_")):
            raise KeyError(f"fitted attribute name {k!r}")
        setattr(est, k, v)


def _tabular_to_state(est: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est, "model_")
    state = {
        "params": _json_params(est),
        "attrs": _fitted_attrs(est),
        "preprocessor": est.preprocessor_.to_dict(),
        # freeze() is state too: a model saved between freeze() and the next cycle came back
        # unfrozen, and that cycle trained every layer.
        "frozen": [name for name, p in est.model_.named_parameters() if not p.requires_grad],
    }
    return state, dict(est.model_.state_dict())


def _tabular_from_state(cls: type, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
    from .learner import serving_device
    from .preprocess import TabularPreprocessor

    est = cls(**state["params"])
    _set_fitted_attrs(est, state["attrs"])
    est.preprocessor_ = TabularPreprocessor.from_dict(state["preprocessor"])
    model = build_with_weights(
        est._make_model, tensors
    )  # TabularMLP, or a MatrixFactorization's net
    device = serving_device(est.device_)
    est.device_ = str(device)
    est.model_ = model.to(device).eval()
    frozen = set(state.get("frozen", ()))
    for name, p in est.model_.named_parameters():
        p.requires_grad_(name not in frozen)
    return est


register("TabularRegressor", "tabdl.estimators", _tabular_to_state, _tabular_from_state)
register("TabularClassifier", "tabdl.estimators", _tabular_to_state, _tabular_from_state)
register("MatrixFactorization", "tabdl.collab", _tabular_to_state, _tabular_from_state)


# >>> EntityEmbeddingEncoder: numpy tables travel as tensors, everything else as JSON
def _encoder_to_state(enc: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    import torch
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(enc, "tables_")
    params = _plain_params(enc)
    params["dtype"] = np.dtype(params["dtype"]).str  # a numpy type is not JSON
    attrs = {k: v for k, v in _fitted_attrs(enc).items() if k != "tables_"}
    tensors = {
        f"tables.{j}": torch.from_numpy(np.ascontiguousarray(t)) for j, t in enumerate(enc.tables_)
    }
    # set_output(transform="pandas") is a setting, not a parameter: kept beside them.
    output = dict(getattr(enc, "_sklearn_output_config", {}))
    return {"params": params, "attrs": attrs, "n_tables": len(enc.tables_), "output": output}, tensors


def _encoder_from_state(cls: type, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
    params = dict(state["params"])
    params["dtype"] = np.dtype(params["dtype"]).type
    # Files written before the principal-axes export hold the net's own coordinates.
    params.setdefault("axes", "net")
    enc = cls(**params)
    enc.centers_ = enc.components_ = None
    _set_fitted_attrs(enc, state["attrs"])
    enc.tables_ = [tensors[f"tables.{j}"].numpy().copy() for j in range(state["n_tables"])]
    if len(tensors) != state["n_tables"] or len(enc.tables_) != len(enc.vocabs_):
        raise KeyError("tables do not match the vocabularies")
    enc._build_lookups()
    if state.get("output"):
        enc.set_output(**state["output"])
    return enc


register("EntityEmbeddingEncoder", "tabdl.embeddings", _encoder_to_state, _encoder_from_state)
