#!/usr/bin/python3
"""FAISS side and judge of the recall benchmark (issue 16, recall.sh).

Usage:
  recall_peers.py truth BASE.npy QUERIES.npy GT.npy
      the exact top-10 neighbours of each query in BASE (IndexFlatL2),
      written as int32 (nq, 10).
  train TRAIN.npy K M NBITS OUT_PREFIX
      FAISS's own training on the rows of TRAIN: IndexIVFPQ(K, M, NBITS)
      .train (k-means, then PQ on residuals), then an
      IndexIVFScalarQuantizer (QT_8bit, not by residual) on the same,
      already trained quantizer .train (the SQ ranges only).  Writes the
      two trained, empty indexes as OUT_PREFIX-ivfpq.index and
      OUT_PREFIX-ivfsq.index and prints the time of each train() on
      stderr.  The whole process is what the benchmark times.
  eval BASE.npy QUERIES.npy GT.npy NPROBES IVF.npy PQ.npy SQ.npy FAISS_PREFIX
      four indexes, each with every row of BASE added: IVF-PQ and IVF-SQ
      from our models (faiss_models.py), and the two FAISS-trained ones;
      for each and each nprobe (comma-separated), a line
        KIND SIDE NPROBE RECALL NDIS
      recall@10 against GT, and the mean number of codes compared per
      query (faiss.cvar.indexIVF_stats.ndis / nq; the nprobe distances to
      the centroids are not counted).

Run by Debian's /usr/bin/python3 (numpy, faiss).  Threads come from
OMP_NUM_THREADS, as the caller sets them.
"""
import sys
import time

import numpy as np

import faiss_models as fm


def recall_at_10(found, gt):
    hits = 0
    for f, g in zip(found, gt):
        hits += len(set(f[:10].tolist()) & set(g[:10].tolist()))
    return hits / (10.0 * len(gt))


def truth(a):
    import faiss
    xb, xq = fm.load(a[0]), fm.load(a[1])
    flat = faiss.IndexFlatL2(xb.shape[1])
    flat.add(xb)
    _, gt = flat.search(xq, 10)
    np.save(a[2], gt.astype(np.int32))


def train(a):
    import faiss
    xt = fm.load(a[0])
    k, m, nbits, out = int(a[1]), int(a[2]), int(a[3]), a[4]
    d = xt.shape[1]
    q = faiss.IndexFlatL2(d)
    pq = faiss.IndexIVFPQ(q, d, k, m, nbits)
    t = time.time()
    pq.train(xt)
    t_pq = time.time() - t
    sq = faiss.IndexIVFScalarQuantizer(q, d, k, faiss.ScalarQuantizer.QT_8bit,
                                       faiss.METRIC_L2, False)
    t = time.time()
    sq.train(xt)                # the quantizer is trained: SQ ranges only
    t_sq = time.time() - t
    faiss.write_index(pq, out + "-ivfpq.index")
    faiss.write_index(sq, out + "-ivfsq.index")
    print("faiss train on %d rows: IndexIVFPQ %.2f s, IndexIVFScalarQuantizer %.2f s"
          % (len(xt), t_pq, t_sq), file=sys.stderr)


def evaluate(a):
    import faiss
    xb, xq, gt = fm.load(a[0]), fm.load(a[1]), np.load(a[2])
    nprobes = [int(p) for p in a[3].split(",")]
    ivf, cb, sq = fm.load(a[4]), fm.load(a[5]), fm.load(a[6])
    prefix = a[7]
    indexes = [
        ("ivfpq", "vtrain", fm.ivfpq(ivf, cb)),
        ("ivfpq", "faiss", faiss.read_index(prefix + "-ivfpq.index")),
        ("ivfsq", "vtrain", fm.ivfsq(ivf, sq)),
        ("ivfsq", "faiss", faiss.read_index(prefix + "-ivfsq.index")),
    ]
    stats = faiss.cvar.indexIVF_stats
    for kind, side, index in indexes:
        t = time.time()
        index.add(xb)
        t_add = time.time() - t
        for p in nprobes:
            index.nprobe = p
            stats.reset()
            _, found = index.search(xq, 10)
            print("%s %s %d %.4f %.1f" % (kind, side, p, recall_at_10(found, gt),
                                          stats.ndis / len(xq)))
        sys.stdout.flush()
        print("%s %s: add of %d rows %.2f s" % (kind, side, len(xb), t_add), file=sys.stderr)


def main():
    cmds = {"truth": (truth, 3), "train": (train, 5), "eval": (evaluate, 8)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) - 2 != cmds[sys.argv[1]][1]:
        sys.exit(__doc__)
    cmds[sys.argv[1]][0](sys.argv[2:])


if __name__ == "__main__":
    main()
