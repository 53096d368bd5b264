"""The ``stacklevel`` that makes a warning name the user's line, whatever the call depth.

A fixed stacklevel is right for one call chain only: ``fit`` and ``fine_tune`` reach the same
warning through different depths, and a fixed number pointed into tabdl for one of them.
(Python 3.12's ``warnings.warn(skip_file_prefixes=...)`` does this; tabdl supports 3.10.)
"""

from __future__ import annotations

import os
import sys

__all__ = ["outside_tabdl"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def outside_tabdl() -> int:
    """For ``warnings.warn(..., stacklevel=outside_tabdl())``: the first frame, going up from the
    function that warns, whose code lies outside the tabdl package."""
    frame = sys._getframe(2)  # the warning function's caller: stacklevel 2
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level
