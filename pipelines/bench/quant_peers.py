#!/usr/bin/python3
"""FAISS side and judge of the quantizer benchmark (issue 5).

Usage:
  quant_peers.py pq-train IVF.npy SAMPLE.npy M NBITS OUT.npy
      residuals of SAMPLE against the nearest IVF centroid, then
      faiss.ProductQuantizer(d, M, NBITS).train; writes the codebook as
      (M, 2^NBITS, d/M) float32.  The whole process is what is timed.
  pq-mse IVF.npy SAMPLE.npy CODEBOOK.npy
      the reconstruction MSE of the residuals under a codebook (one judge
      for both sides): mean over rows of ||r - q(r)||^2, in float64.
  ivfpq-recall DATA.npy QUERIES.npy IVF.npy CODEBOOK.npy TRAIN.npy NPROBE
      recall@10 at NPROBE of an IndexIVFPQ built from our IVF centroids and
      codebook, and of FAISS's own IndexIVFPQ trained on TRAIN, both with
      every row of DATA added; ground truth by exact search.
  sq-dim SAMPLE.npy BOUNDS.npy
      faiss.ScalarQuantizer(d, QT_8bit, RS_minmax).train on SAMPLE against
      our per-dimension bounds (rows vmin, vmax): prints the largest
      differences of vmin and of vdiff.

Run by Debian's /usr/bin/python3 (numpy, faiss).  Threads come from
OMP_NUM_THREADS, as the caller sets them.
"""
import sys
import time

import numpy as np

from faiss_models import ivfpq, load, residuals


def pq_mse(r, cb):
    m, ksub, dsub = cb.shape
    tot = np.zeros(r.shape[0])
    for s in range(m):
        sub = r[:, s * dsub:(s + 1) * dsub].astype(np.float64)
        c = cb[s].astype(np.float64)
        d2 = (sub * sub).sum(1)[:, None] - 2 * sub @ c.T + (c * c).sum(1)[None, :]
        j = d2.argmin(1)
        e = sub - c[j]
        tot += (e * e).sum(1)
    return tot.mean()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, a = sys.argv[1], sys.argv[2:]
    import faiss
    if cmd == "pq-train" and len(a) == 5:
        ivf, x = load(a[0]), load(a[1])
        m, nbits = int(a[2]), int(a[3])
        r = residuals(ivf, x)
        pq = faiss.ProductQuantizer(r.shape[1], m, nbits)
        pq.train(r)
        cb = faiss.vector_to_array(pq.centroids).reshape(m, 1 << nbits, r.shape[1] // m)
        np.save(a[4], cb.astype(np.float32))
    elif cmd == "pq-mse" and len(a) == 3:
        ivf, x, cb = load(a[0]), load(a[1]), load(a[2])
        print("%.9g" % pq_mse(residuals(ivf, x), cb))
    elif cmd == "ivfpq-recall" and len(a) == 6:
        xb, xq, ivf, cb, xt = load(a[0]), load(a[1]), load(a[2]), load(a[3]), load(a[4])
        nprobe = int(a[5])
        d = xb.shape[1]
        k = ivf.shape[0]
        m, ksub, dsub = cb.shape
        nbits = ksub.bit_length() - 1
        flat = faiss.IndexFlatL2(d)
        flat.add(xb)
        _, gt = flat.search(xq, 10)

        def recall(index):
            index.nprobe = nprobe
            _, found = index.search(xq, 10)
            return np.mean([len(set(found[i]) & set(gt[i])) / 10.0 for i in range(len(xq))])

        ours = ivfpq(ivf, cb)
        t0 = time.time()
        ours.add(xb)
        t_ours = time.time() - t0
        r_ours = recall(ours)

        q2 = faiss.IndexFlatL2(d)
        theirs = faiss.IndexIVFPQ(q2, d, k, m, nbits)
        t0 = time.time()
        theirs.train(xt)
        t_train = time.time() - t0
        theirs.add(xb)
        r_theirs = recall(theirs)
        print("recall@10 nprobe=%d: vtrain models %.4f, FAISS-trained %.4f, ratio %.4f"
              % (nprobe, r_ours, r_theirs, r_ours / r_theirs))
        print("(add of %d rows with our models: %.1f s; FAISS IndexIVFPQ.train on %d rows: %.1f s)"
              % (len(xb), t_ours, len(xt), t_train))
    elif cmd == "sq-dim" and len(a) == 2:
        x, b = load(a[0]), np.load(a[1]).astype(np.float64)
        d = x.shape[1]
        sq = faiss.ScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit)
        sq.rangestat = faiss.ScalarQuantizer.RS_minmax
        sq.train(x)
        t = faiss.vector_to_array(sq.trained).astype(np.float64)
        vmin, vdiff = t[:d], t[d:]
        ours_min, ours_diff = b[0], b[1] - b[0]
        print("sq dim vs FAISS RS_minmax: max |vmin diff| %.3g, max |vdiff diff| %.3g, "
              "vmin equal %s, vdiff equal (as float32) %s"
              % (np.abs(vmin - ours_min).max(), np.abs(vdiff - ours_diff).max(),
                 bool((vmin.astype(np.float32) == ours_min.astype(np.float32)).all()),
                 bool((vdiff.astype(np.float32) == ours_diff.astype(np.float32)).all())))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
