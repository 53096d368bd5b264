"""Guards around public calls: warnings that name the user's line, and state put back when a
call is refused. Torch-free, so that every module may use them.

- ``outside_tabdl``: a fixed stacklevel is right for one call chain only (``fit`` and
  ``fine_tune`` reach the same warning through different depths, and a fixed number pointed into
  tabdl for one of them). Python 3.12's ``warnings.warn(skip_file_prefixes=...)`` does this;
  tabdl supports 3.10.
- ``unchanged_on_error``: a refused refit must not leave a fitted model half replaced.
- ``finite`` and ``check_positive``: the parameter checks the torch-free modules (the encoder)
  share with the estimators; ``is_number`` and ``is_count``: the same for values read from a
  file (a saved model, a dataset card), where a bool is no number.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["outside_tabdl", "unchanged_on_error", "finite", "check_positive", "is_number", "is_count"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# scikit-learn wraps a transformer's fit_transform and transform (set_output's container): that
# frame is still the tabdl call, and warnings of EntityEmbeddingEncoder.fit_transform named it.
_SET_OUTPUT = os.path.join("sklearn", "utils", "_set_output.py")


def _inside_tabdl(code: Any) -> bool:
    return code.co_filename.startswith(_PACKAGE) or code.co_filename.endswith(_SET_OUTPUT)


def outside_tabdl() -> int:
    """For ``warnings.warn(..., stacklevel=outside_tabdl())``: the first frame, going up from the
    function that warns, whose code lies outside the tabdl package (and scikit-learn's wrapper of
    its transformer methods)."""
    frame = sys._getframe(2)  # the warning function's caller: stacklevel 2
    level = 2
    while frame is not None and _inside_tabdl(frame.f_code):
        frame = frame.f_back
        level += 1
    return level


@contextlib.contextmanager
def unchanged_on_error(obj: Any, *, interrupt: bool = False) -> Iterator[None]:
    """An exception in the block puts ``obj``'s attributes back as they were.

    A shallow copy: it restores the attributes the block replaces (a refit builds new nets,
    preprocessing and target stats), not objects changed in place, so it wraps only code that
    replaces. The previous fit stays in memory until the block ends. KeyboardInterrupt is let
    through as it is: training loops keep what they finished (README, Ctrl-C), and restoring
    would throw finished nets away. ``interrupt``: undo a KeyboardInterrupt too, for a block whose
    training loops absorb the Ctrl-C whose work they keep: one that escapes them fell where
    nothing is kept, and left the estimator half replaced (a refit's new target scaling or
    preprocessing beside its old net: silently wrong predictions).
    """
    before = dict(obj.__dict__)
    undone = (Exception, KeyboardInterrupt) if interrupt else Exception
    try:
        yield
    except undone:
        obj.__dict__.clear()
        obj.__dict__.update(before)
        raise


def finite(value: numbers.Real) -> bool:
    """math.isfinite, False for an int too large for a float (isfinite raises OverflowError)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check_positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> None:
    """A ValueError naming ``name`` unless ``value`` is a number (an int if ``integer``) > 0
    (>= 0 with ``allow_zero``); bools and non-finite floats are refused."""
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok or not (integer or finite(value)):
        what = "an int" if integer else "a finite number"
        raise ValueError(f"{name} must be {what} {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def is_number(v: Any) -> bool:
    """An int or float value (not a bool), as JSON holds numbers."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_count(v: Any) -> bool:
    """A non-negative int value (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0
