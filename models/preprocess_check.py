"""Preprocessing parity CLI: preprocess_check.py IN.u8 N OUT.f32
Reads N 48x48 uint8 images (row-major, N*2304 bytes) and writes N*2304 little-endian float32 values computed by
common.preprocess_u8 -- the exact function used for training, evaluation and calibration."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    src, n, dst = argv[1], int(argv[2]), argv[3]
    raw = np.fromfile(src, dtype=np.uint8)
    if raw.size != n * 2304:
        sys.exit("preprocess_check: %s has %d bytes, expected N*2304 = %d" % (src, raw.size, n * 2304))
    import torch
    torch.set_num_threads(1)
    from common import preprocess_u8
    out = preprocess_u8(raw.reshape(n, 48, 48)).numpy().astype("<f4")
    out.tofile(dst)


if __name__ == "__main__":
    main(sys.argv)
