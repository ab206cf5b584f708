#!/usr/bin/python3
"""FAISS side of the vassign benchmark (issue 14).

Usage:
  assign_peers.py add IVF.npy PQ.npy DATA.npy
      an IndexIVFPQ from our IVF centroids (IndexFlatL2 quantizer) and PQ
      codebook (M, 2^nbits, d/M), by_residual, then index.add(DATA): the
      assignment and the PQ encoding of every row.  Prints the time of the
      add alone; the whole process is what the benchmark times.
  assign IVF.npy DATA.npy
      the labels only: quantizer.search(DATA, 1) on an IndexFlatL2 of IVF.
  agree IVF.npy DATA.npy PARTITIONS.npy
      the fraction of rows whose FAISS assignment equals vassign's
      partition 0 (the judge; not timed).

Run by Debian's /usr/bin/python3 (numpy, faiss).  Threads come from
OMP_NUM_THREADS, as the caller sets them.
"""
import sys
import time

import numpy as np

from faiss_models import ivfpq, load, quantizer


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "add":
        ivf, cb, x = load(a[0]), load(a[1]), load(a[2])
        index = ivfpq(ivf, cb)
        t = time.time()
        index.add(x)
        print("faiss add: %.2f s, %d rows" % (time.time() - t, index.ntotal), file=sys.stderr)
    elif cmd == "assign":
        ivf, x = load(a[0]), load(a[1])
        t = time.time()
        _, lab = quantizer(ivf).search(x, 1)
        print("faiss assign: %.2f s, %d rows" % (time.time() - t, len(lab)), file=sys.stderr)
    elif cmd == "agree":
        ivf, x = load(a[0]), load(a[1])
        p = np.load(a[2])[:, 0]
        _, lab = quantizer(ivf).search(x, 1)
        print("%.6f" % float((lab[:, 0] == p).mean()))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
