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
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .guards import is_count, is_number, outside_tabdl

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
# The largest meta.json load reads (its inflated size): a deflate "bomb" of a few MB would
# otherwise be read whole into memory. A 1,000,000-category vocabulary weighs about 11 MB of
# JSON, and a MatrixFactorization's seen items about 6 bytes per training rating (150 MB for
# 25M ratings): 1 GiB leaves room for ~90 such vocabularies or ~150M ratings. Raise it for more.
MAX_META_BYTES = 1 << 30
# A weights.pt deflated to less than 1/_WEIGHTS_RATIO of its size is refused above
# _WEIGHTS_FREE bytes: save stores the weights uncompressed, and float weights barely compress,
# so only a crafted file inflates its member that far.
_WEIGHTS_RATIO, _WEIGHTS_FREE = 100, 64 << 20


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
        return {"__items__": [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"{where}: cannot store an array of dtype {obj.dtype} in a tabdl file")
        dtype = "object" if obj.dtype.kind == "O" else obj.dtype.str
        kind = obj.dtype.kind
        flat = (
            obj.ravel().astype(str) if kind == "M" else obj.ravel().view(np.int64) if kind == "m" else obj.ravel()
        ).tolist()
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
    raise ValueError(f"{where}: cannot store a {type(obj).__name__} in a tabdl file (JSON values only)")


class _Bad(ValueError):
    """A malformed value in a file's state; ``where`` is the path to it, outermost first."""

    def __init__(self, msg: str):
        super().__init__(msg)
        self.msg, self.where = msg, []

    def __str__(self) -> str:
        at = "".join(f"[{k!r}]" for k in reversed(self.where))
        return f"state{at}: {self.msg}" if at else self.msg


# The most dimensions a stored array may have (numpy's own limit is 64).
_MAX_NDIM = 32
# A string array (numpy's fixed width) may take up to this factor of the text it holds, or
# _WIDE_BYTES, whichever is more (np.unique of labels cast to a wider dtype); beyond it the width
# is an untrusted number that would allocate n * width bytes.
_WIDE_FACTOR, _WIDE_BYTES = 64, 1 << 20


def decode(obj: Any) -> Any:
    """Inverse of ``encode``; builds only lists, dicts, tuples, slices, arrays and frames.

    A malformed tag (an array whose values do not fit its dtype or shape, a float that is not
    "nan"/"inf"/"-inf", ...) raises ValueError naming the path to it."""
    if isinstance(obj, list):
        out = []
        for i, v in enumerate(obj):
            try:
                out.append(decode(v))
            except _Bad as e:
                e.where.append(i)
                raise
        return out
    if not isinstance(obj, dict):
        return obj
    try:
        return _decode_dict(obj)
    except _Bad:
        raise
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, MemoryError) as e:
        # pandas / numpy refusing what a tag holds
        raise _Bad(f"{_tag_of(obj)} {type(e).__name__}: {e}") from None


def _tag_of(obj: dict) -> str:
    return next((t for t in _TAGS if t in obj), "value")


def _decode_dict(obj: dict) -> Any:
    if "__tuple__" in obj:
        if not isinstance(obj["__tuple__"], list):
            raise _Bad("__tuple__ does not hold a list")
        return tuple(decode(obj["__tuple__"]))
    if "__slice__" in obj:
        parts = obj["__slice__"]
        if not (isinstance(parts, list) and len(parts) == 3 and all(v is None or is_number(v) for v in parts)):
            raise _Bad("__slice__ does not hold [start, stop, step] numbers")
        return slice(*parts)
    if "__float__" in obj:
        if obj["__float__"] not in ("nan", "inf", "-inf"):  # encode writes only these
            raise _Bad(f"__float__ holds {str(obj['__float__'])[:40]!r}, not 'nan', 'inf' or '-inf'")
        return float(obj["__float__"])
    if set(obj) == {"__timestamp__", "tz"} and isinstance(obj["__timestamp__"], str):
        # By its whole shape: files before version 4 hold a user's {"__timestamp__": ...} as a plain dict
        if obj["tz"] is not None and not isinstance(obj["tz"], str):
            raise _Bad(f"__timestamp__'s tz is a {type(obj['tz']).__name__}, not a zone name")
        ts = pd.Timestamp(obj["__timestamp__"])
        if ts is pd.NaT:
            raise _Bad("__timestamp__ holds NaT")
        try:
            return ts.tz_convert(obj["tz"]) if obj["tz"] else ts
        except (ValueError, TypeError, KeyError):  # a zone this machine's tz database lacks: the offset
            return ts
    if "__items__" in obj:
        items = obj["__items__"]
        if not (isinstance(items, list) and all(isinstance(p, list) and len(p) == 2 for p in items)):
            raise _Bad("__items__ does not hold [key, value] pairs")
        out = {}
        for i, (k, v) in enumerate(items):
            try:
                out[_hashable(decode(k))] = decode(v)
            except _Bad as e:
                e.where.append(i)
                raise
        return out
    if "__ndarray__" in obj:
        return _decode_array(obj)
    if "__frame__" in obj:
        return _decode_frame(obj["__frame__"])
    out = {}
    for k, v in obj.items():
        try:
            out[k] = decode(v)
        except _Bad as e:
            e.where.append(k)
            raise
    return out


def _decode_array(obj: dict) -> np.ndarray:
    dtype, shape = obj.get("dtype"), obj.get("shape")
    if not isinstance(dtype, str):
        raise _Bad(f"__ndarray__'s dtype is a {type(dtype).__name__}, not a dtype's name")
    dtype = np.dtype(dtype)
    # Sub-array, structured and void dtypes hide sizes and fields of their own: never stored.
    if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise _Bad(f"array dtype {dtype} is not allowed in a tabdl file")
    if not (isinstance(shape, list) and len(shape) <= _MAX_NDIM and all(is_count(n) for n in shape)):
        raise _Bad(f"__ndarray__'s shape {str(shape)[:60]} is not a list of sizes")
    flat = decode(obj["__ndarray__"])
    if not isinstance(flat, list):
        raise _Bad("__ndarray__ does not hold a list of values")
    if math.prod(shape) != len(flat):
        raise _Bad(f"__ndarray__'s shape {shape} does not match its {len(flat)} values")
    shape = tuple(shape)
    kind = dtype.kind
    if kind == "O":
        arr = np.empty(len(flat), dtype=object)
        try:
            arr[:] = flat
        except ValueError:  # values that are lists of one length: numpy would read them as a 2-D array
            for i, v in enumerate(flat):
                arr[i] = v
        return arr.reshape(shape)
    if kind == "M":
        if not all(isinstance(v, str) for v in flat):  # numpy's own ISO text ("NaT" included)
            raise _Bad(f"a {dtype} array holds values that are not date text")
        return np.array(flat, dtype=dtype).reshape(shape)
    if kind == "U" and flat:
        if not all(isinstance(v, str) for v in flat):
            raise _Bad(f"a {dtype} array holds values that are not text")
        # np.unique of int labels cast to text is <U21 for 5-character labels: judged by the bytes
        # it would allocate against the text the file holds, not by the width alone.
        longest, held = max(map(len, flat)), 4 * (sum(map(len, flat)) + len(flat))
        if len(flat) * dtype.itemsize > max(_WIDE_BYTES, _WIDE_FACTOR * held):
            raise _Bad(f"a {dtype} array's width is far beyond its longest string ({longest})")
        return np.array(flat, dtype=dtype).reshape(shape)
    if kind == "U":
        return np.empty(shape, dtype=dtype)  # no values: no bytes, whatever the width
    # bool, int, float and duration (int counts) arrays: numbers that fit the dtype, no text
    raw = np.asarray(flat) if flat else np.empty(0, dtype=dtype if kind != "m" else np.int64)
    allowed = {"b": "b", "i": "iu", "u": "iu", "f": "biuf", "m": "iu"}[kind]
    if kind == "u" and raw.dtype.kind == "f" and all(type(v) is int for v in flat):
        # uint64 values beyond int64's range beside others (uint64 class labels): numpy promotes
        # such a mix of ints to float64, which would lose them; kept as ints, range-checked below
        raw, allowed = np.array(flat, dtype=object), "O"
    if raw.ndim != 1 or raw.dtype.kind not in allowed:
        raise _Bad(f"a {dtype} array holds values that are not {'bools' if kind == 'b' else 'numbers'} of its kind")
    if kind in "ium" and raw.size:
        info = np.iinfo(np.int64 if kind == "m" else dtype)
        if raw.min() < info.min or raw.max() > info.max:
            raise _Bad(f"a {dtype} array holds values beyond its range")
    if kind == "m":
        return raw.astype(np.int64).view(dtype).reshape(shape)
    return raw.astype(dtype, copy=False).reshape(shape)


def _decode_frame(f: Any) -> pd.DataFrame:
    if not (isinstance(f, dict) and isinstance(f.get("data"), dict) and "columns" in f and "index" in f):
        raise _Bad("__frame__ does not hold columns, index and data")
    columns = decode(f["columns"])
    index = decode(f["index"])
    if not isinstance(columns, list):
        raise _Bad("__frame__'s columns are not a list")
    if not _one_dim(index):
        raise _Bad("__frame__'s index is not a list")
    data = {}
    for i in range(len(columns)):
        col = decode(f["data"].get(str(i)))
        if not _one_dim(col) or len(col) != len(index):
            raise _Bad(f"__frame__'s column {i} does not hold one value per row of its index ({len(index)})")
        data[i] = col
    df = pd.DataFrame(data, index=index)
    df.columns = columns
    return df


def _one_dim(v: Any) -> bool:
    return isinstance(v, list) or isinstance(v, np.ndarray) and v.ndim == 1


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
    if os.path.isdir(path) or not os.path.basename(path):  # "" or "models/": no file named
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
        raise ValueError(f"tabdl cannot save a {type(model).__qualname__}: only {kind.module}.{name} is registered")
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
        raise ValueError(
            f"{e}. The fitted model does not need it: set_params() it to a JSON value "
            "(an int or None for random_state, metric names for metrics) and save again"
        ) from None
    # The oldest version whose readers read this file right: 4 with a Timestamp or a datetime
    # array, 3 for a net with raw columns, else 2 (a string value that spells a tag only costs a
    # newer version).
    # The state is serialised once: the version is read off its text, then the text is spliced in.
    state_text = json.dumps(encoded, allow_nan=False, separators=(",", ":"))
    version = (
        4
        if '"__timestamp__"' in state_text or '"<M8[' in state_text or '"<m8[' in state_text
        else 3
        if "raw_cont" in (getattr(model, "model_config_", None) or {})
        else 2
    )
    meta = {
        "format": FORMAT,
        "format_version": version,
        "tabdl_version": _tabdl_version(),
        "torch_version": torch.__version__,
        "class": name,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    text = json.dumps(meta, allow_nan=False, separators=(",", ":"))[:-1] + ',"state":' + state_text + "}"
    path = os.fsdecode(path)  # a bytes path too: the temporary name is built as text
    check_save_path(path)
    # Unique per call: saves from two threads (or hosts sharing a folder) to one path would
    # otherwise write, rename and remove each other's temporary file.
    tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"  # short: a long file name must still fit
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
    """Read a model written by ``save``. Raises ValueError naming the file for a corrupted,
    truncated, incompatible or inconsistent file (see MAX_META_BYTES for the size cap)."""
    import torch

    path = os.fsdecode(path)  # a bytes path too, named as text in the errors
    try:
        with zipfile.ZipFile(path) as zf:
            meta_bytes, weights = _read_members(zf)
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    # A flipped or missing byte surfaces as any of these, depending on where it lands; an
    # encrypted member is a RuntimeError, JSON nested too deep a RecursionError (one too).
    except (
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        EOFError,
        OSError,
        NotImplementedError,
        ValueError,
        RuntimeError,
        MemoryError,
    ) as e:
        raise ValueError(f"{path!r} is not a readable tabdl file ({_what_file(path)}): {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a tabdl model file")
    version = meta.get("format_version")
    if type(version) is not int or version not in READS_VERSIONS:  # true == 1 to Python, not a version
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
    del weights
    name = meta.get("class")
    if not isinstance(name, str):
        raise ValueError(f"{path!r}: its class is {name!r}, not a name")
    try:
        kind, cls = _kind_of(name)
    except ValueError as e:
        raise ValueError(f"{path!r}: {e}") from None
    try:
        _check_tensors(tensors)
        if "state" not in meta:
            raise _Bad("the file holds no state")
        return kind.from_state(cls, decode(meta["state"]), tensors)
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RuntimeError,
        OverflowError,
        NotImplementedError,
    ) as e:
        what = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        writer = meta.get("tabdl_version")
        # A file from another tabdl (a parameter it added, say) is the likely cause: name both.
        versions = (
            f"; written by tabdl {writer!s:.40}, read by {_tabdl_version()}" if writer != _tabdl_version() else ""
        )
        raise ValueError(f"{path!r}: the saved {name} state is inconsistent ({what}){versions}") from None


def _read_members(zf: zipfile.ZipFile) -> tuple[bytes, bytes]:
    """meta.json and weights.pt, each read once its size is known to be sane. A ValueError says
    what is wrong with the file; load names the file."""
    names = zf.namelist()
    for member in (_META, _WEIGHTS):
        if names.count(member) > 1:  # readers disagree on which copy counts
            raise ValueError(f"it holds {member} {names.count(member)} times")
    info = zf.getinfo(_META)
    if info.file_size > MAX_META_BYTES:
        raise ValueError(
            f"its {_META} is {info.file_size / 2**20:.0f} MiB, beyond the "
            f"{MAX_META_BYTES / 2**20:.0f} MiB load reads (tabdl.io.MAX_META_BYTES)"
        )
    with zf.open(info) as f:  # bounded: a header that understates the size cannot make it read more
        meta = f.read(MAX_META_BYTES + 1)
    if len(meta) > MAX_META_BYTES:
        raise ValueError(f"its {_META} inflates beyond the {MAX_META_BYTES / 2**20:.0f} MiB load reads")
    info = zf.getinfo(_WEIGHTS)
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > max(
        _WEIGHTS_FREE, _WEIGHTS_RATIO * info.compress_size
    ):
        raise ValueError(
            f"its {_WEIGHTS} inflates from {info.compress_size} to {info.file_size} bytes, "
            "far beyond what weights compress to"
        )
    return meta, zf.read(info)


def _check_tensors(tensors: Any) -> None:
    """The weights are a dict of named tensors, each backed by storage of its own size: an
    expanded view (stride 0) would pass a (10**6, 10**6) table off as a few bytes of file."""
    import torch

    if not isinstance(tensors, dict):
        raise _Bad(f"the weights are a {type(tensors).__name__}, not a dict of named tensors")
    storages, used = {}, 0
    for k, t in tensors.items():
        if not isinstance(k, str) or not isinstance(t, torch.Tensor):
            raise _Bad(f"the weights hold {k!r}: {type(t).__name__}, not a named tensor")
        storage = t.untyped_storage()
        need = t.numel() * t.element_size()
        if storage.nbytes() < need:
            raise _Bad(f"weight {k!r} of shape {tuple(t.shape)} is a view over {storage.nbytes()} bytes")
        storages[storage.data_ptr()] = storage.nbytes()
        used += need
    if used > sum(storages.values()):
        raise _Bad("the weights share their storage (views of one another)")


def _what_file(path: str) -> str:
    """A guess at what a file that is not a tabdl zip holds, for the error."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return "corrupted or truncated?"
    if head[:1] == b"\x80":  # pickle protocol 2+: joblib.dump or pickle.dump wrote it
        return (
            "a pickle, from joblib.dump or pickle.dump: read it with joblib.load, which runs "
            "code from the file, so only a file you trust"
        )
    return "corrupted or truncated?"


def _tabdl_version() -> str:
    from . import __version__

    return __version__


def build_with_weights(make: Callable[[], torch.nn.Module], tensors: dict[str, torch.Tensor]) -> torch.nn.Module:
    """``make()`` a module and give it the saved weights, skipping the random init.

    The module is built on the meta device (no memory, no init: a 1M-row embedding table took
    4 s to initialise only to be overwritten), and the loaded tensors are assigned in place once
    each matches the name, shape and dtype of the module's own; this also leaves the global
    torch RNG untouched. Literal tensors (``torch.tensor(data)``: index buffers, bin edges,
    offsets) are built for real, from data the file holds: a constructor may read them, and
    those the weights hold too must equal them. Nothing sized by the file's numbers is
    allocated before the weights have shown those sizes. A ValueError says what disagrees.
    A module with other state outside its state_dict (a non-persistent buffer from a factory)
    is then built the ordinary way, at the sizes the weights confirmed.
    """
    import torch

    with torch.device("meta"), _literals_on_cpu():
        model = make()
    own = model.state_dict(keep_vars=True)
    missing, extra = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    if missing or extra:
        raise _Bad(
            f"the weights do not fit the net its config describes: missing {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected {extra[:5]}{' ...' if len(extra) > 5 else ''}"
        )
    params = {name for name, _ in model.named_parameters()}
    for name, mine in own.items():
        got = tensors[name]
        if got.dtype != mine.dtype or got.shape != mine.shape:
            raise _Bad(
                f"weight {name!r} is {got.dtype} {tuple(got.shape)}; the net has {mine.dtype} {tuple(mine.shape)}"
            )
        if not mine.is_meta and mine.ndim and not mine.is_floating_point() and not torch.equal(got, mine):
            # an index buffer the config also describes (raw_cont's columns); not a counter
            raise _Bad(f"weight {name!r} disagrees with the net's config")
        if got.is_floating_point() and not _all_finite(got):
            if name in params:  # training restores finite weights after a NaN/inf loss
                raise _Bad(f"weight {name!r} holds NaN or inf values: the model would predict NaN")
            warnings.warn(
                f"buffer {name!r} holds NaN or inf values: some predictions may be NaN",
                RuntimeWarning,
                stacklevel=outside_tabdl(),
            )
    model.load_state_dict(tensors, strict=True, assign=True)
    if not any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
        return model
    with torch.random.fork_rng(devices=[]):
        model = make()
    model.load_state_dict(tensors, strict=True)
    return model


def _all_finite(t: torch.Tensor) -> bool:
    """No NaN or inf in ``t``: one sum, which a NaN or inf makes non-finite, and the exact test
    only when that sum overflowed."""
    import torch

    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


_LITERALS_MODE: Any = None


def _literals_on_cpu() -> Any:
    """A torch function mode under which ``torch.tensor(data)`` builds on the CPU, whatever
    device context is active: the data is already in memory (from the file's JSON), and a
    module's constructor may read it (rtdl's bin checks call ``.item()``)."""
    global _LITERALS_MODE
    if _LITERALS_MODE is None:
        import torch
        from torch.overrides import TorchFunctionMode

        class LiteralsOnCpu(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = dict(kwargs or {})
                if func is torch.tensor and kwargs.get("device") is None:
                    kwargs["device"] = "cpu"
                return func(*args, **kwargs)

        _LITERALS_MODE = LiteralsOnCpu
    return _LITERALS_MODE()


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
            m.name if isinstance(m, Metric) and METRICS.get(m.name) is m else m for m in params["metrics"]
        ]
    return params


def _fitted_attrs(est: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_") and k not in _REBUILT}


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

    if not isinstance(state.get("params"), dict) or not isinstance(state.get("attrs"), dict):
        raise _Bad("state['params'] and state['attrs'] must be dicts")
    est = cls(**state["params"])
    _set_fitted_attrs(est, state["attrs"])
    est.preprocessor_ = TabularPreprocessor.from_dict(state.get("preprocessor"))
    _check_net_config(est, tensors)  # before anything is built from its numbers
    model = build_with_weights(est._make_model, tensors)  # TabularMLP, or a MatrixFactorization's net
    _check_fitted(est, model)
    device = serving_device(est.device_)
    est.device_ = str(device)
    est.model_ = model.to(device).eval()
    frozen = state.get("frozen", [])
    if not isinstance(frozen, list):
        raise _Bad("state['frozen'] must be a list of parameter names")
    frozen = set(frozen)
    for name, p in est.model_.named_parameters():
        p.requires_grad_(name not in frozen)
    return est


# The sizes a net's config (model_config_) gives, by key; each is checked against the weights
# before a net is built (NetBag's n_bags against the nets the weights hold).
_SIZES = ("n_cont", "n_out", "k", "n_users", "n_items", "n_factors")
_SIZE_LISTS = ("cardinalities", "emb_dims", "layers")


def _check_net_config(est: Any, tensors: dict[str, torch.Tensor]) -> None:
    """model_config_'s sizes are counts no larger than the weights it must describe, and its
    n_bags the number of nets the weights hold: a config that claims 20,000 nets or layers
    20,000 wide fails here, before a module is built for it."""
    config = getattr(est, "model_config_", None)
    if not isinstance(config, dict):
        raise _Bad("state['attrs']['model_config_'] must be a dict")
    numel = sum(t.numel() for t in tensors.values())

    def size(key: str, v: Any) -> None:
        if not is_count(v) or v > numel:
            raise _Bad(f"model_config_[{key!r}] is {str(v)[:40]}, not a size the {numel} weights could hold")

    for key in _SIZES:
        if key in config:
            size(key, config[key])
    for key in _SIZE_LISTS:
        if key in config:
            v = config[key]
            if not isinstance(v, list) or len(v) > len(tensors):
                raise _Bad(f"model_config_[{key!r}] is not a list of at most {len(tensors)} sizes")
            for n in v:
                size(key, n)
    if 0 in config.get("layers", []):  # fit refuses it; the ensemble head's init asserted on it
        raise _Bad("model_config_['layers'] holds a layer 0 units wide")
    if not isinstance(config.get("sparse", False), bool):  # torch's embedding() refused it at predict
        raise _Bad(f"model_config_['sparse'] is {str(config['sparse'])[:40]}, not true or false")
    # num_embeddings' sizes are not counts of the weights: the config keeps them for a net with
    # no column to embed (categoricals only, or flags that enter raw), and the meta build confirms
    # them against the weights where a module holds them.
    for sub, keys in (("neighbours", ("n_pairs", "k")),):
        part = config.get(sub)
        if part is not None:
            if not isinstance(part, dict):
                raise _Bad(f"model_config_[{sub!r}] must be a dict or None")
            for key in keys:
                if key in part:
                    size(f"{sub}.{key}", part[key])
    n_bags = config.get("n_bags", 1)
    nets = {k.split(".", 2)[1] for k in tensors if k.startswith("nets.")}
    if not is_count(n_bags) or n_bags != max(len(nets), 1):
        raise _Bad(f"model_config_['n_bags'] is {str(n_bags)[:40]}, but the weights hold {max(len(nets), 1)} net(s)")


def _check_fitted(est: Any, model: torch.nn.Module) -> None:
    """The preprocessor, the net and the fitted attributes agree, so that predict cannot index
    past a table, mis-size a net's input or compute with text where numbers belong."""
    pre, config = est.preprocessor_, est.model_config_
    if config.get("kind") == "dot":
        cards = [config.get("n_users"), config.get("n_items")]
    else:
        cards = config.get("cardinalities")
        if config.get("n_cont") != pre.n_cont_out_:
            raise _Bad(
                f"the net takes {config.get('n_cont')} continuous inputs; the preprocessor "
                f"gives {pre.n_cont_out_} ({len(pre.cont_names_)} columns, "
                f"{sum(pre.has_indicator_)} missing-value indicators)"
            )
        n_out = 1 if config.get("kind") == "nn" else est._n_out()
        if config.get("n_out") != n_out:
            raise _Bad(f"the net has {config.get('n_out')} outputs; the fitted targets need {n_out}")
        reduce = "mean" if est._task == "regression" else "proba"  # as _model_config sets it
        if config.get("reduce", reduce) != reduce:
            raise _Bad(
                f"model_config_['reduce'] is {config.get('reduce')!r}; a {type(est).__name__} averages by {reduce!r}"
            )
    if cards != pre.cardinalities_:
        raise _Bad(
            f"the embedding tables have {cards} rows; the vocabularies need "
            f"{pre.cardinalities_} (one more than each vocabulary)"
        )
    device = getattr(est, "device_", None)
    if not isinstance(device, str) or device.split(":")[0] == "meta":
        raise _Bad(f"device_ is {device!r}, not a device to serve on")
    est._check_loaded(model)  # the attributes each class adds, checked by the class that fits them


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
    tensors = {f"tables.{j}": torch.from_numpy(np.ascontiguousarray(t)) for j, t in enumerate(enc.tables_)}
    # set_output(transform="pandas") is a setting, not a parameter: kept beside them.
    output = dict(getattr(enc, "_sklearn_output_config", {}))
    return {"params": params, "attrs": attrs, "n_tables": len(enc.tables_), "output": output}, tensors


def _encoder_from_state(cls: type, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
    if not isinstance(state.get("params"), dict) or not isinstance(state.get("attrs"), dict):
        raise _Bad("state['params'] and state['attrs'] must be dicts")
    params = dict(state["params"])
    if not isinstance(params.get("dtype"), str):
        raise _Bad(f"the encoder's dtype is {params.get('dtype')!r}, not a dtype's name")
    params["dtype"] = np.dtype(params["dtype"]).type
    # Files written before the principal-axes export hold the net's own coordinates.
    params.setdefault("axes", "net")
    enc = cls(**params)
    enc._validate_params()  # the estimator's own checks: a float dtype, known axes, ...
    enc.centers_ = enc.components_ = None
    _set_fitted_attrs(enc, state["attrs"])
    n = state.get("n_tables")
    # The count first: a file's n_tables of 10**12 would build a set of as many names.
    if not is_count(n) or n != len(tensors) or set(tensors) != {f"tables.{j}" for j in range(n)}:
        raise _Bad(f"n_tables ({repr(n)[:20]}) does not match the {len(tensors)} tables it holds")
    enc.tables_ = []
    for j in range(n):
        try:
            enc.tables_.append(tensors[f"tables.{j}"].numpy().copy())
        except TypeError:  # a dtype numpy has not (bfloat16); other dtypes the encoder refuses
            raise _Bad(f"table {j} is {tensors[f'tables.{j}'].dtype}, which numpy cannot hold") from None
    try:
        enc._check_loaded()  # the vocabularies, tables and axes: checked by the class that fits them
    except ValueError as err:
        raise _Bad(str(err)) from None
    enc._build_lookups()
    output = state.get("output")
    if output:
        if (
            not isinstance(output, dict)
            or not set(output) <= {"transform"}
            or output.get("transform") not in (None, "default", "pandas", "polars")
        ):
            raise _Bad(f"the encoder's output setting {str(output)[:60]} is not set_output(transform=...)")
        enc.set_output(**output)
    return enc


register("EntityEmbeddingEncoder", "tabdl.embeddings", _encoder_to_state, _encoder_from_state)
