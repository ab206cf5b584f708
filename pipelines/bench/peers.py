#!/usr/bin/python3
"""Reference k-means runs for the benchmarks: FAISS and scikit-learn.

Usage: peers.py faiss|sklearn-random|sklearn-kmeans++ IN.npy K ITERS SEED OUT.npy

Reads float32 rows from IN.npy, trains K centroids with ITERS Lloyd
iterations, and writes them to OUT.npy (float32, K x d).  Threads come from
the environment (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS), as the caller sets
them.  It is run by Debian's /usr/bin/python3, which has numpy, faiss and
sklearn.
"""
import sys

import numpy as np


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    which, src, k, iters, seed, out = sys.argv[1:]
    k, iters, seed = int(k), int(iters), int(seed)
    x = np.ascontiguousarray(np.load(src), dtype=np.float32)
    n, d = x.shape
    if which == "faiss":
        import faiss
        km = faiss.Kmeans(d, k, niter=iters, seed=seed, verbose=False,
                          max_points_per_centroid=(n + k - 1) // k + 1,
                          min_points_per_centroid=1)
        km.train(x)
        c = km.centroids
    elif which.startswith("sklearn-"):
        from sklearn.cluster import KMeans
        init = which[len("sklearn-"):]
        km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=iters, tol=0.0,
                    algorithm="lloyd", random_state=seed)
        km.fit(x)
        c = km.cluster_centers_
    else:
        sys.exit("unknown peer " + which)
    np.save(out, np.ascontiguousarray(c, dtype=np.float32))


if __name__ == "__main__":
    main()
