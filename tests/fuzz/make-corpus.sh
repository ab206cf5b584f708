#!/usr/bin/env bash
# Write the seed corpus of the fuzz harnesses into tests/fixtures/fuzz/NAME/
# (stream npy vecs bin lz4 hdf5) with the tools of a build: small valid inputs of
# every stream kind and codec, and of every foreign format.  Files named
# crash-* and regress-* (the inputs of bugs found, kept as regression tests)
# are left alone.
# Usage: tests/fuzz/make-corpus.sh [BIN_DIR]   (default build/bin)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$(cd "${1:-build/bin}" && pwd)
PY=${VT_PYTHON:-/usr/bin/python3}
C=$PWD/tests/fixtures/fuzz
for d in stream npy vecs bin lz4 hdf5; do
	mkdir -p "$C/$d"
	find "$C/$d" -maxdepth 1 -type f ! -name 'crash-*' ! -name 'regress-*' -delete
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

# --- streams of every kind ---
"$B/vgen" -n 2000 -d 8 --means 4 --seed 3 -o big.vt
"$B/vsample" -m 60 big.vt -o s.vt                      # vectors with ids
"$B/vgen" -n 40 -d 4 --seed 1 -o v.vt                  # vectors, no ids
"$B/vgen" -n 40 -d 4 --seed 1 --sigma 0 --means 2 -z -o vz.vt
"$B/vgen" -n 40 -d 4 --seed 1 --sigma 0 --means 2 --compress=lz4 -o vl.vt
"$B/vcat" --frame-bytes 64 -o vframes.vt v.vt           # many small frames
cat v.vt v.vt >vcat2.vt                                # two segments
"$B/vcoreset" -k 4 --budget 16 -q s.vt -o p.vt          # points
"$B/vkmeans" -k 4 -q s.vt -o c.vt                       # centroids
"$B/vpq" -c c.vt -m 2 --nbits 2 -q s.vt -o pq.vt        # pq
"$B/vsqbounds" -q s.vt -o sqdim.vt                      # sq bounds
"$B/vsqbounds" -q --mode global s.vt -o sqglobal.vt
"$B/vsqbounds" -q --mode meanstd --partial s.vt -o sqmeanstd.vt
"$B/vsqbounds" -q --mode quantile --partial --tail 64 --quantile 0.05 big.vt -o sqquant.vt
"$B/vloss" -c c.vt --partial s.vt -o acc.vt             # accum
cat acc.vt acc.vt >acc2.vt
for f in s p c pq sqdim sqmeanstd acc; do
	"$B/vcat" -z -o "${f}z.vt" "$f.vt"
	"$B/vcat" --compress=lz4 -o "${f}l.vt" "$f.vt"
done
cp v.vt vz.vt vl.vt vframes.vt vcat2.vt s.vt p.vt pz.vt pl.vt c.vt cz.vt pq.vt pqz.vt \
   sqdim.vt sqdimz.vt sqglobal.vt sqmeanstd.vt sqmeanstdz.vt sqquant.vt acc.vt accz.vt accl.vt \
   acc2.vt "$C/stream/"

# --- foreign formats ---
"$B/vcat" --to npy -o "$C/npy/f4.npy" v.vt
for f in f2_v1 f8_v1 u1_v1 i2_v2 i4_v3 be_f4 oned threed fortran zerod empty struct c8; do
	cp "$OLDPWD/tests/fixtures/formats/$f.npy" "$C/npy/"
done
"$B/vcat" --to fvecs -o "$C/vecs/f.fvecs" v.vt
"$B/vcat" --to fbin -o "$C/bin/f.fbin" v.vt
"$PY" - "$C" <<'PYEOF'
import struct, sys
c = sys.argv[1]
rows = [[(i * 7 + j * 3) % 256 for j in range(4)] for i in range(10)]
with open(c + "/vecs/b.bvecs", "wb") as f:
    for r in rows:
        f.write(struct.pack("<i", 4) + bytes(r))
with open(c + "/vecs/i.ivecs", "wb") as f:
    for r in rows:
        f.write(struct.pack("<i", 4) + struct.pack("<4i", *[v - 128 for v in r]))
with open(c + "/bin/b.u8bin", "wb") as f:
    f.write(struct.pack("<II", 10, 4) + b"".join(bytes(r) for r in rows))
with open(c + "/bin/mnist-like.idx", "wb") as f:
    f.write(bytes([0, 0, 8, 3]) + struct.pack(">III", 10, 2, 2) + b"".join(bytes(r) for r in rows))
PYEOF

# --- lz4: the control bytes and the stored payload of a compressed frame
# (see tests/fuzz/fuzz_lz4.c) ---
"$PY" - "$C/lz4" vz.vt vl.vt sz.vt pz.vt pl.vt cz.vt pqz.vt sqdimz.vt sqmeanstdz.vt accz.vt accl.vt <<'PYEOF'
import struct, sys
shapes = [(1, 0), (1, 1), (2, 6), (2, 7), (3, 6), (4, 0), (5, 0), (6, 6)]
out = sys.argv[1]
for path in sys.argv[2:]:
    d = open(path, "rb").read()
    kind, elem, cols, dim = struct.unpack_from("<HBBxxI", d, 6)
    off = 24 + struct.unpack_from("<I", d, 20)[0] + 8
    codec = d[off + 4]
    rows, raw, stored = struct.unpack_from("<III", d, off + 8)
    if codec == 0:
        continue
    s = shapes.index((kind, cols))
    ctl = bytes([s | (8 if codec == 2 else 0)]) + struct.pack("<HH", dim - 1, rows - 1)
    name = path.rsplit(".", 1)[0]
    open("%s/%s" % (out, name), "wb").write(ctl + d[off + 32:off + 32 + stored])
PYEOF
# --- hdf5: small files of the layouts and element types read (h5py) ---
"$B/vcat" --to npy -o v.npy v.vt
"$PY" "$OLDPWD/tests/fixtures/annhdf5.py" ann "$C/hdf5/ann.hdf5" v.npy v.npy --k 3
"$PY" "$OLDPWD/tests/fixtures/annhdf5.py" ann "$C/hdf5/ann-chunked.hdf5" v.npy v.npy --k 3 --chunks 7,3
"$PY" "$OLDPWD/tests/fixtures/annhdf5.py" put "$C/hdf5/gzip-f8.hdf5" train v.npy --dtype '>f8' --chunks 8,4 --gzip
"$PY" "$OLDPWD/tests/fixtures/annhdf5.py" put "$C/hdf5/i8.hdf5" train v.npy --dtype '<i8'
"$PY" "$OLDPWD/tests/fixtures/annhdf5.py" put "$C/hdf5/f2.hdf5" train v.npy --dtype '<f2' --chunks 5,4
"$PY" "$OLDPWD/tests/fixtures/annhdf5.py" put "$C/hdf5/cube.hdf5" train v.npy --shape 10,4,4
"$PY" -c 'import h5py, numpy as np, sys; f = h5py.File(sys.argv[1], "w", libver="latest"); f.create_dataset("train", data=np.load("v.npy"), chunks=(4, 4), maxshape=(None, 4))' "$C/hdf5/v3-unlimited.hdf5"
du -sh "$C"/*
