#!/usr/bin/env python3
"""numpy reference for tests/similarity.rs.

Usage: similarity.py IN OUT N D
IN holds N*D float32 little-endian values (rows of embeddings). OUT receives, little-endian:
  N*N float64   cosine similarity matrix (zero rows: similarity 0, as scikit-learn)
  N*D float64   rows scaled to unit L2 norm (zero rows stay zero)
  N//3 int64    odd one out of each consecutive triplet (rows 3t, 3t+1, 3t+2): the item outside
                the most similar pair, ties to the first pair of (0,1), (0,2), (1,2) (numpy.argmax).
Everything is computed in float64 from the float32 inputs.
"""
import sys

import numpy as np


def main():
    src, dst, n, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    x = np.fromfile(src, dtype="<f4").astype(np.float64).reshape(n, d)
    norms = np.linalg.norm(x, axis=1)
    safe = np.where(norms == 0.0, 1.0, norms)
    unit = x / safe[:, None]
    cos = np.clip(unit @ unit.T, -1.0, 1.0)
    odd = []
    for t in range(n // 3):
        s = cos[3 * t : 3 * t + 3, 3 * t : 3 * t + 3]
        pair_sims = np.array([s[0, 1], s[0, 2], s[1, 2]])
        odd.append([2, 1, 0][int(np.argmax(pair_sims))])
    with open(dst, "wb") as f:
        f.write(cos.astype("<f8").tobytes())
        f.write(unit.astype("<f8").tobytes())
        f.write(np.array(odd, dtype="<i8").tobytes())


if __name__ == "__main__":
    main()
