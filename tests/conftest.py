import torch

# The test tensors are tiny: intra-op threads only add spin-waiting, and on a busy shared
# machine two torch threads made a 300-row fit ~10x slower than one (measured, see the
# coretests merge note). One thread keeps the suite fast and its timings stable.
torch.set_num_threads(1)
