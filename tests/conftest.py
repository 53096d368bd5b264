import os

import pandas as pd
import torch

# The test tensors are tiny: intra-op threads only add spin-waiting, and on a busy shared
# machine two torch threads made a 300-row fit ~10x slower than one (measured, see the
# coretests merge note). One thread keeps the suite fast and its timings stable.
torch.set_num_threads(1)

# pandas 3 stores "str" columns in pyarrow where it is installed (the dev extras install it) and
# in Python objects where not: the Makefile runs the data-handling tests again with
# TABDL_STRING_STORAGE=python, so neither storage lands untested.
if os.environ.get("TABDL_STRING_STORAGE"):
    pd.set_option("mode.string_storage", os.environ["TABDL_STRING_STORAGE"])
