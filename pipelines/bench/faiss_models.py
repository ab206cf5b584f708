"""vtrain's models in FAISS: the loading code the benchmarks share.

The models come as the .npy arrays that `vcat --to npy` writes
(docs/INTEROP.md): IVF centroids (k, d), a PQ codebook (M, 2^nbits, d/M)
and SQ bounds (2, d), row 0 the minima and row 1 the maxima.  Each function
returns a trained, empty FAISS index (or a helper object) that holds our
model exactly; nothing here trains.

Imported by the scripts of pipelines/bench/ that Debian's /usr/bin/python3
runs (numpy, faiss); the script's folder is on sys.path.
"""
import numpy as np


def load(path):
    """An .npy file as a C-contiguous float32 array."""
    return np.ascontiguousarray(np.load(path), dtype=np.float32)


def quantizer(ivf):
    """An IndexFlatL2 holding the IVF centroids (k, d): the coarse quantizer."""
    import faiss
    q = faiss.IndexFlatL2(ivf.shape[1])
    q.add(np.ascontiguousarray(ivf, dtype=np.float32))
    return q


def residuals(ivf, x):
    """x minus its nearest IVF centroid (FAISS's float search), row by row."""
    _, a = quantizer(ivf).search(x, 1)
    return np.ascontiguousarray(x - ivf[a[:, 0]])


def ivfpq(ivf, codebook, by_residual=True):
    """An IndexIVFPQ from IVF centroids (k, d) and a PQ codebook
    (M, 2^nbits, d/M), trained and empty.  The quantizer is kept alive by
    the index (index.q).  by_residual=False for a codebook trained
    `vpq --no-residual`."""
    import faiss
    k, d = ivf.shape
    m, ksub, _ = codebook.shape
    q = quantizer(ivf)
    index = faiss.IndexIVFPQ(q, d, k, m, ksub.bit_length() - 1)
    index.q = q
    index.by_residual = by_residual
    faiss.copy_array_to_vector(np.ascontiguousarray(codebook, dtype=np.float32).ravel(),
                               index.pq.centroids)
    index.is_trained = True
    if by_residual:
        index.precompute_table()
    return index


def sq_trained(bounds):
    """FAISS's ScalarQuantizer `trained` vector (QT_8bit: the minima, then
    the ranges) from our bounds (2, d)."""
    b = np.asarray(bounds, dtype=np.float32)
    return np.concatenate([b[0], b[1] - b[0]]).astype(np.float32)


def ivfsq(ivf, bounds, by_residual=False):
    """An IndexIVFScalarQuantizer (QT_8bit, per dimension) from IVF centroids
    (k, d) and SQ bounds (2, d), trained and empty.  by_residual=True goes
    with bounds trained on residuals (`vsqbounds -c`)."""
    import faiss
    k, d = ivf.shape
    q = quantizer(ivf)
    index = faiss.IndexIVFScalarQuantizer(q, d, k, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_L2, by_residual)
    index.q = q
    faiss.copy_array_to_vector(sq_trained(bounds), index.sq.trained)
    index.is_trained = True
    return index
