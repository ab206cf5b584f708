#!/usr/bin/env bats
# vassign: exact labels (partitions, distances) and PQ codes of every row.

load helpers

setup_data() {
	vgen -n 3000 -d 16 --means 20 --seed 3 -o x.vt
	vkmeans -q -k 24 --seed 1 -o c.vt x.vt
}

need_faiss() {
	"$PY" -c 'import faiss' 2>/dev/null || skip "needs Debian's python3-faiss"
}

# brute TOP X.npy C.npy LABELS [cosine]: compare LABELS.{ids,partitions,
# distances}.npy with a float64 brute force (top by (distance, index)).
brute() {
	"$PY" - "$@" <<'EOF'
import sys
import numpy as np
top, xf, cf, lab = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
x = np.load(xf).astype(np.float32)
if len(sys.argv) > 5 and sys.argv[5] == "cosine":
    n = np.sqrt((x.astype(np.float64) ** 2).sum(1))
    x = np.where(n[:, None] > 0, x / np.where(n > 0, n, 1)[:, None], x).astype(np.float32)
x = x.astype(np.float64)
c = np.load(cf).astype(np.float64)
d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
idx = np.broadcast_to(np.arange(len(c)), d.shape)
order = np.lexsort((idx, d), axis=-1)[:, :top]   # by distance, then index
P = np.load(lab + ".partitions.npy")
D = np.load(lab + ".distances.npy")
I = np.load(lab + ".ids.npy")
assert P.dtype == np.int32 and P.shape == (len(x), top), (P.dtype, P.shape)
assert D.dtype == np.float32 and D.shape == (len(x), top), (D.dtype, D.shape)
assert I.dtype == np.int64 and (I == np.arange(len(x))).all()
bad = np.nonzero((P != order).any(1))[0]
assert len(bad) == 0, ("labels differ", bad[:5], P[bad[:5]], order[bad[:5]])
ref = np.take_along_axis(d, order, 1)
assert np.allclose(D, ref, rtol=1e-6, atol=1e-6), abs(D - ref).max()
assert (np.diff(D, axis=1) >= 0).all()
print("ok")
EOF
}

@test "vassign: labels equal a float64 brute force, and ties go to the lower index" {
	need_numpy
	setup_data
	vcat --to npy -o x.npy x.vt
	# centroids 24..29 repeat 0..5: exact ties
	"$PY" -c "
import numpy as np, subprocess
c = np.frombuffer(subprocess.run(['vcat', '--to', 'raw', 'c.vt'], capture_output=True, check=True).stdout, dtype='<f4').reshape(24, 16)
np.save('c2.npy', np.concatenate([c, c[:6]]))"
	run -0 vassign -q -c c2.npy -o l.vt x.vt
	vcat --to npy -o l.npy l.vt
	run -0 brute 1 x.npy c2.npy l
	assert_output ok
	run -0 vassign -q -c c2.npy --top 5 -o l5.vt x.vt
	vcat --to npy -o l5.npy l5.vt
	run -0 brute 5 x.npy c2.npy l5
	assert_output ok
	# a row whose nearest centroid is duplicated lists both, lower first
	run -0 "$PY" -c "
import numpy as np
P = np.load('l5.partitions.npy'); D = np.load('l5.distances.npy')
rows = np.nonzero(P[:, 0] < 6)[0]
assert len(rows) > 0
assert (P[rows, 1] == P[rows, 0] + 24).all() and (D[rows, 1] == D[rows, 0]).all()
print('ok')"
	assert_output ok
}

@test "vassign: the labels stream, its metadata and its text" {
	setup_data
	vpq -q -c c.vt -m 4 --nbits 6 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt --top 3 -o l.vt x.vt
	run -0 vcat --info l.vt
	assert_line "kind: labels"
	assert_line "element: w32"
	assert_line "dim: 7"
	assert_line "columns: ids"
	assert_line "meta.k: 24"
	assert_line "meta.top: 3"
	assert_line "meta.pq_m: 4"
	assert_line "meta.pq_nbits: 6"
	assert_line "meta.metric: l2"
	cid=$(meta centroids_id pq.vt)
	assert_line "meta.centroids_id: $cid"
	assert_line --regexp '^meta.pq_id: [0-9a-f]{16}$'
	assert_line "rows: 3000"
	run -0 bash -c 'vcat --to text l.vt | head -2'
	assert_line --index 0 --regexp '^0( [0-9]+){3}( [0-9.e+-]+){3}( [0-9]+){4}$'
	assert_line --index 1 --regexp '^1 '
	run -0 vcat --count l.vt
	assert_output 3000
}

@test "vassign: codes equal FAISS's ProductQuantizer on the same residuals" {
	need_numpy
	need_faiss
	setup_data
	vpq -q -c c.vt -m 4 --nbits 8 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt -o l.vt x.vt
	vcat --to npy -o l.npy l.vt
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o c.npy c.vt
	vcat --to npy -o pq.npy pq.vt
	run -0 "$PY" -c "
import numpy as np, faiss
x = np.load('x.npy'); C = np.load('c.npy'); B = np.load('pq.npy')
P = np.load('l.partitions.npy'); codes = np.load('l.codes.npy')
M, ksub, dsub = B.shape
assert codes.dtype == np.uint8 and codes.shape == (len(x), M)
pq = faiss.ProductQuantizer(x.shape[1], M, 8)
faiss.copy_array_to_vector(B.ravel(), pq.centroids)
r = x - C[P[:, 0]]                      # float32, as IndexIVFPQ.add
ref = pq.compute_codes(np.ascontiguousarray(r))
bad = np.nonzero((ref != codes).any(1))[0]
print('differ', len(bad))"
	assert_output "differ 0"
}

@test "vassign: --sq codes equal FAISS's ScalarQuantizer QT_8bit on the same residuals" {
	need_numpy
	need_faiss
	setup_data
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o c.npy c.vt
	# dim: every value inside its bounds; meanstd (r=1): many clipped on both
	# sides; global: one range, as QT_8bit_uniform
	vsqbounds -q -c c.vt --mode dim -o sd.vt x.vt
	vsqbounds -q -c c.vt --mode meanstd --r 1 -o sm.vt x.vt
	vsqbounds -q -c c.vt --mode global -o sg.vt x.vt
	for m in sd sm sg; do
		vassign -q -c c.vt --sq $m.vt -o l$m.vt x.vt
		vcat --to npy -o l$m.npy l$m.vt
		vcat --to npy -o $m.npy $m.vt
		run -0 "$PY" - $m <<'EOF2'
import sys
import numpy as np, faiss
m = sys.argv[1]
x = np.load("x.npy"); C = np.load("c.npy"); S = np.load(m + ".npy")
P = np.load("l" + m + ".partitions.npy"); codes = np.load("l" + m + ".codes.npy")
d = x.shape[1]
assert codes.dtype == np.uint8 and codes.shape == (len(x), d), (codes.dtype, codes.shape)
if m == "sg":
    sq = faiss.ScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit_uniform)
    tr = np.array([S[0][0], S[1][0] - S[0][0]], dtype=np.float32)
else:
    sq = faiss.ScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit)
    tr = np.concatenate([S[0], S[1] - S[0]]).astype(np.float32)
faiss.copy_array_to_vector(tr, sq.trained)
r = np.ascontiguousarray(x - C[P[:, 0]])   # float32, as IndexIVFScalarQuantizer.add
ref = sq.compute_codes(r)
clipped = int(((codes == 0) | (codes == 255)).sum())
print("differ", int((ref != codes).any(1).sum()), "clipped", clipped > 0)
EOF2
		if [ $m = sm ]; then assert_output "differ 0 clipped True"; else assert_line -p "differ 0"; fi
	done
	# an IndexIVFScalarQuantizer filled from the labels alone equals index.add
	run -0 "$PY" - <<'EOF2'
import numpy as np, faiss
from faiss.contrib.inspect_tools import get_invlist
x = np.load("x.npy"); C = np.load("c.npy"); S = np.load("sd.npy")
ids = np.load("lsd.ids.npy"); P = np.load("lsd.partitions.npy")[:, 0]
codes = np.load("lsd.codes.npy")
k, d = C.shape
def make():
    q = faiss.IndexFlatL2(d)
    q.add(C)
    ix = faiss.IndexIVFScalarQuantizer(q, d, k, faiss.ScalarQuantizer.QT_8bit)
    faiss.copy_array_to_vector(np.concatenate([S[0], S[1] - S[0]]).astype("float32"),
                               ix.sq.trained)
    ix.is_trained = True
    return ix, q
ref, q1 = make()
ref.add_with_ids(x, ids)
pre, q2 = make()
order = np.argsort(P, kind="stable")
bounds = np.searchsorted(P[order], np.arange(k + 1))
lid = np.ascontiguousarray(ids[order]); lcode = np.ascontiguousarray(codes[order])
for l in range(k):
    a, b = int(bounds[l]), int(bounds[l + 1])
    if b > a:
        pre.invlists.add_entries(l, b - a, faiss.swig_ptr(lid[a:b]), faiss.swig_ptr(lcode[a:b]))
same = sum(all(np.array_equal(u, v) for u, v in
               zip(get_invlist(ref.invlists, l), get_invlist(pre.invlists, l)))
           for l in range(k))
print("by_residual", ref.by_residual, "lists", same, k)
EOF2
	assert_output "by_residual True lists 24 24"
	run -0 vcat --info lsd.vt
	assert_line "meta.codes: sq"
	assert_line "meta.pq_m: 16"
	assert_line -p "meta.sq_id: "
}

@test "vassign: --sq refuses bounds of rows, of other centroids, statistics, and --pq with it" {
	setup_data
	vkmeans -q -k 24 --seed 2 -o c2.vt x.vt
	vsqbounds -q -c c2.vt -o s2.vt x.vt
	run -1 --separate-stderr vassign -q -c c.vt --sq s2.vt -o l.vt x.vt
	cid=$(meta centroids_id s2.vt)
	assert_err "s2.vt: bounds of residuals against other centroids (centroids_id $cid), not c.vt (centroids_id "
	assert_no_leftovers l.vt
	vsqbounds -q -o sr.vt x.vt
	run -1 --separate-stderr vassign -q -c c.vt --sq sr.vt -o l.vt x.vt
	assert_err "sr.vt: bounds of rows, not of residuals (vsqbounds without -c)"
	vsqbounds -q -c c.vt --mode quantile --partial -o sp.vt x.vt
	run -1 --separate-stderr vassign -q -c c.vt --sq sp.vt -o l.vt x.vt
	assert_err "vassign: sp.vt: holds SQ statistics, not bounds (finish them with vsqbounds sp.vt)"
	run -1 --separate-stderr vassign -q -c c.vt --sq c2.vt -o l.vt x.vt
	assert_err "c2.vt: is not SQ bounds"
	vsqbounds -q -c c.vt -o s.vt x.vt
	run -2 --separate-stderr vassign -c c.vt --pq s.vt --sq s.vt -o l.vt x.vt
	assert_usage_error vassign "--pq and --sq both give the codes; choose one"
	assert_no_leftovers l.vt
}

@test "vassign: a labels stream that says codes=sq must hold d codes of 8 bits" {
	need_xxhash
	setup_data
	vcat --rows 0:50 -o s.vt x.vt
	vsqbounds -q -c c.vt -o sq.vt x.vt
	vassign -q -c c.vt --sq sq.vt -o l.vt s.vt
	run -0 vcat --count l.vt
	vtcraft set-meta l.vt zz.vt codes zz
	run -1 --separate-stderr vcat --count zz.vt
	assert_err "labels: metadata codes=zz is neither pq nor sq"
	vtcraft set-meta l.vt d.vt d 15
	run -1 --separate-stderr vcat --count d.vt
	assert_err "labels: SQ codes need pq_nbits=8 and pq_m=d (pq_m=16 pq_nbits=8 d=15)"
	# a PQ stream that claims SQ codes: pq_nbits is not 8
	vpq -q -c c.vt -m 16 --nbits 4 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt -o lp.vt s.vt
	vtcraft set-meta lp.vt p.vt codes sq
	run -1 --separate-stderr vcat --count p.vt
	assert_err "labels: SQ codes need pq_nbits=8"
	# labels with SQ codes and with PQ codes do not merge
	vpq -q -c c.vt -m 16 --nbits 8 -o pq8.vt x.vt
	vcat --rows 50:60 -o t.vt x.vt
	vassign -q -c c.vt --pq pq8.vt --offset 50 -o lq.vt t.vt
	run -1 --separate-stderr vmerge l.vt lq.vt
	assert_err "lq.vt: cannot be merged with l.vt: labels with pq_id "
}

@test "vassign: codes of fewer bits equal a numpy brute force (ties to the lower index)" {
	need_numpy
	setup_data
	vpq -q -c c.vt -m 2 --nbits 5 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt --top 2 -o l.vt x.vt
	vcat --to npy -o l.npy l.vt
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o c.npy c.vt
	vcat --to npy -o pq.npy pq.vt
	run -0 "$PY" -c "
import numpy as np
x = np.load('x.npy'); C = np.load('c.npy'); B = np.load('pq.npy').astype(np.float64)
P = np.load('l.partitions.npy'); codes = np.load('l.codes.npy')
M, K, ds = B.shape
r = (x - C[P[:, 0]]).astype(np.float64)
for m in range(M):
    s = r[:, m * ds:(m + 1) * ds]
    d = ((s[:, None, :] - B[m][None]) ** 2).sum(-1)
    assert (d.argmin(1) == codes[:, m]).all(), m
assert codes.max() < 32
print('ok')"
	assert_output ok
}

@test "vassign: cosine normalises rows under the model's metric" {
	need_numpy
	vgen -n 2000 -d 8 --means 10 --seed 4 -o x.vt
	vkmeans -q -k 12 --metric=cosine --seed 1 -o c.vt x.vt
	vassign -q -c c.vt --top 2 -o l.vt x.vt
	run -0 meta metric l.vt
	assert_output cosine
	vcat --to npy -o l.npy l.vt
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o c.npy c.vt
	run -0 brute 2 x.npy c.npy l cosine
	assert_output ok
}

@test "vassign: shards cut with vcat --rows and --offset give one run's bytes" {
	setup_data
	vpq -q -c c.vt -m 4 --nbits 6 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt --top 2 -o whole.vt x.vt
	vcat --rows 0:1100 -o s1.vt x.vt
	vcat --rows 1100:2000 -o s2.vt x.vt
	vcat --rows 2000: -o s3.vt x.vt
	vassign -q -c c.vt --pq pq.vt --top 2 -o l1.vt s1.vt
	vassign -q -c c.vt --pq pq.vt --top 2 --offset 1100 -o l2.vt s2.vt
	vassign -q -c c.vt --pq pq.vt --top 2 --offset 2000 -o l3.vt s3.vt
	# concatenated, re-framed: the same bytes
	vcat --frame-bytes 1M -o cat.vt l1.vt l2.vt l3.vt
	run -0 cmp cat.vt whole.vt
	run -0 bash -c 'set -o pipefail; cat l1.vt l2.vt l3.vt | vcat --frame-bytes 1M | cmp - whole.vt'
	# merged by id in any order: the merge of the whole, and the whole's bytes
	# (a labels merge keeps vassign's header)
	vmerge -q -o m.vt l3.vt l1.vt l2.vt
	vmerge -q -o mw.vt whole.vt
	run -0 cmp m.vt mw.vt
	run -0 cmp m.vt whole.vt
	# threads, batches and compression change no label
	vassign -q -c c.vt --pq pq.vt --top 2 -j 1 --batch-rows 100 -o j1.vt x.vt
	run -0 cmp j1.vt whole.vt
	vassign -q -c c.vt --pq pq.vt --top 2 -z -o z.vt x.vt
	run -0 bash -c 'set -o pipefail; vcat z.vt | cmp - whole.vt'
}

@test "vassign: an input with ids keeps them" {
	setup_data
	vcat --ids --rows 500:700 -o s.vt x.vt
	vassign -q -c c.vt -o l.vt s.vt
	run -0 bash -c "set -o pipefail; vcat --to text l.vt | cut -d' ' -f1 | sed -n '1p;\$p'"
	assert_output $'500\n699'
	run -1 --separate-stderr vassign -q -c c.vt --offset 10 -o l2.vt s.vt
	assert_err "s.vt: has ids of its own; --offset"
	assert_no_leftovers l2.vt
}

@test "vassign: usage errors print nothing on stdout" {
	setup_data
	run -2 --separate-stderr vassign x.vt
	assert_usage_error vassign "-c IVF_CENTROIDS is required"
	run -2 --separate-stderr vassign -c c.vt --top 0 x.vt
	assert_usage_error vassign "--top"
	run -2 --separate-stderr vassign -c c.vt --top 65 x.vt
	assert_usage_error vassign "--top"
	run -2 --separate-stderr vassign -c c.vt -o l.npy x.vt
	assert_usage_error vassign "vcat --to npy"
	assert_no_leftovers l.npy
}

@test "vassign: bad inputs get clear errors and leave no output" {
	setup_data
	vgen -n 100 -d 8 --seed 1 -o x8.vt
	run -1 --separate-stderr vassign -q -c c.vt -o l.vt x8.vt
	assert_err "centroids have dimension 16, but x8.vt has 8"
	assert_no_leftovers l.vt
	run -1 --separate-stderr vassign -q -c c.vt --metric=cosine -o l.vt x.vt
	assert_err "c.vt: made with metric=l2, but --metric=cosine was given"
	assert_no_leftovers l.vt
	run -1 --separate-stderr vassign -q -c c.vt --top 25 -o l.vt x.vt
	assert_err "--top 25: c.vt has only k=24 centroids"
	run -1 --separate-stderr vassign -q -c c.vt -o l.vt c.vt
	assert_err "c.vt: is a centroids stream; vassign labels vectors"
	assert_no_leftovers l.vt
}

@test "vassign: a codebook of other centroids, of no residuals, or of another metric is refused" {
	setup_data
	vkmeans -q -k 24 --seed 2 -o c2.vt x.vt
	vpq -q -c c2.vt -m 4 --nbits 4 -o pq2.vt x.vt
	run -1 --separate-stderr vassign -q -c c.vt --pq pq2.vt -o l.vt x.vt
	cid=$(meta centroids_id pq2.vt)
	assert_err "pq2.vt: codebook trained against other centroids (centroids_id $cid), not c.vt (centroids_id "
	assert_no_leftovers l.vt
	vpq -q --no-residual -m 4 --nbits 4 -o pqn.vt x.vt
	run -1 --separate-stderr vassign -q -c c.vt --pq pqn.vt -o l.vt x.vt
	assert_err "pqn.vt: codebook was not trained on residuals"
	run -1 --separate-stderr vassign -q -c c.vt --pq c2.vt -o l.vt x.vt
	assert_err "c2.vt: is not a PQ codebook"
	assert_no_leftovers l.vt
}

@test "vassign: a row with a NaN is refused, naming it" {
	need_xxhash
	setup_data
	vcat --rows 0:50 -o s.vt x.vt
	vtcraft poke s.vt bad.vt data 7 nan
	run -1 --separate-stderr vassign -q -c c.vt -o l.vt bad.vt
	assert_err "bad.vt: row 7 has a NaN or infinite value"
	assert_no_leftovers l.vt
}

@test "vassign: readers refuse labels with a partition out of range" {
	need_xxhash
	setup_data
	vcat --rows 0:50 -o s.vt x.vt
	vassign -q -c c.vt --top 2 -o l.vt s.vt
	vtcraft poke-word l.vt bad.vt 3 1 24
	run -1 --separate-stderr vcat --to text bad.vt
	assert_err "bad.vt: frame 1: row 3: partition 24 is out of range (k=24)"
	vtcraft poke-word l.vt neg.vt 4 0 -1
	run -1 --separate-stderr vcat --to npy -o out.npy neg.vt
	assert_err "neg.vt: frame 1: row 4: partition -1 is out of range"
	assert_no_leftovers out.ids.npy
	# a distance below the one before it (word 2 is the first distance)
	vtcraft poke-word l.vt ord.vt 0 3 0
	run -1 --separate-stderr vmerge -q -o m.vt ord.vt
	assert_err "ord.vt: frame 1: row 0: distance 1 (0) is below distance 0"
	assert_no_leftovers m.vt
}

@test "vassign: readers refuse labels with bad metadata or codes" {
	need_xxhash
	setup_data
	vpq -q -c c.vt -m 4 --nbits 3 -o pq.vt x.vt
	vcat --rows 0:50 -o s.vt x.vt
	vassign -q -c c.vt --pq pq.vt -o l.vt s.vt
	# the codes are word 2: byte 0 is code 0; 8 is not below 2^3
	vtcraft poke-word l.vt code.vt 5 2 8
	run -1 --separate-stderr vcat --to text code.vt
	assert_err "code.vt: frame 1: row 5: code 8 of sub-space 0 is not below 2^3"
	vtcraft set-meta l.vt top.vt top 2
	run -1 --separate-stderr vcat --count top.vt
	assert_err "labels: dimension 3 is not 2 top + ceil(pq_m / 4) = 5"
	vtcraft set-meta l.vt k.vt k x
	run -1 --separate-stderr vcat --count k.vt
	assert_err "labels: metadata k=x is not an integer"
}

@test "vcat: labels --to npy needs -o, and is refused as fvecs" {
	setup_data
	vassign -q -c c.vt -o l.vt x.vt
	run -2 --separate-stderr vcat --to npy l.vt
	assert_usage_error vcat "give -o NAME.npy"
	run -2 --separate-stderr vcat --to fvecs -o l.fvecs l.vt
	assert_usage_error vcat "labels are exported --to npy or text, not fvecs"
	assert_no_leftovers l.fvecs
	vcat --to npy -o out.npy l.vt
	assert_file_exists out.ids.npy
	assert_file_exists out.partitions.npy
	assert_file_exists out.distances.npy
	assert_file_not_exists out.codes.npy
	assert_file_not_exists out.npy
}

@test "vmerge: labels of other centroids or overlapping shards are refused" {
	setup_data
	vkmeans -q -k 24 --seed 2 -o c2.vt x.vt
	vcat --rows 0:1000 -o s1.vt x.vt
	vassign -q -c c.vt -o a.vt s1.vt
	vassign -q -c c2.vt -o b.vt s1.vt
	run -1 --separate-stderr vmerge -q -o m.vt a.vt b.vt
	assert_err "b.vt: cannot be merged with a.vt: labels with centroids_id"
	assert_no_leftovers m.vt
	vassign -q -c c.vt --offset 999 -o a2.vt s1.vt
	run -1 --separate-stderr vmerge -q -o m.vt a.vt a2.vt
	assert_err "id 999 appears twice"
	assert_no_leftovers m.vt
	vassign -q -c c.vt --top 2 -o t2.vt s1.vt
	run -1 --separate-stderr bash -c 'cat a.vt t2.vt | vcat --count'
	assert_err "has dimension 4, but the first input has dimension 2"
}

@test "vassign: a FAISS IndexIVFPQ filled from the labels alone equals index.add" {
	need_numpy
	need_faiss
	setup_data
	vpq -q -c c.vt -m 4 --nbits 8 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt -o l.vt x.vt
	for f in x c pq; do vcat --to npy -o $f.npy $f.vt; done
	vcat --to npy -o l.npy l.vt
	# the recipe of docs/INTEROP.md, "Precomputed partitions and codes"
	run -0 "$PY" - <<'EOF2'
import numpy as np, faiss
from faiss.contrib.inspect_tools import get_invlist
x = np.load("x.npy"); C = np.load("c.npy"); B = np.load("pq.npy")
ids = np.load("l.ids.npy"); P = np.load("l.partitions.npy")[:, 0]; codes = np.load("l.codes.npy")
k, d = C.shape
M, ksub, dsub = B.shape
def make():
    q = faiss.IndexFlatL2(d)
    q.add(C)
    ix = faiss.IndexIVFPQ(q, d, k, M, int(np.log2(ksub)))
    ix.by_residual = True
    faiss.copy_array_to_vector(B.ravel(), ix.pq.centroids)
    ix.is_trained = True
    ix.precompute_table()
    return ix, q
ref, q1 = make()
ref.add_with_ids(x, ids)
pre, q2 = make()
order = np.argsort(P, kind="stable")
bounds = np.searchsorted(P[order], np.arange(k + 1))
lid = np.ascontiguousarray(ids[order])
lcode = np.ascontiguousarray(codes[order])
for l in range(k):
    a, b = int(bounds[l]), int(bounds[l + 1])
    if b > a:
        pre.invlists.add_entries(l, b - a, faiss.swig_ptr(lid[a:b]), faiss.swig_ptr(lcode[a:b]))
pre.ntotal = len(x)
same = sum(all(np.array_equal(u, v) for u, v in
               zip(get_invlist(ref.invlists, l), get_invlist(pre.invlists, l)))
           for l in range(k))
ref.nprobe = pre.nprobe = 4
xq = x[::7]
Da, Ia = ref.search(xq, 10)
Db, Ib = pre.search(xq, 10)
print("lists", same, k, "search", np.array_equal(Ia, Ib), np.array_equal(Da, Db))
EOF2
	assert_output "lists 24 24 search True True"
}

@test "vassign: reads a pipe, writes stdout, and --help goes to stdout" {
	setup_data
	vassign -q -c c.vt --top 2 -o whole.vt x.vt
	run -0 bash -c 'set -o pipefail; vcat x.vt | vassign -q -c c.vt --top 2 --compress=lz4 | vcat | cmp - whole.vt'
	run -0 bash -c 'set -o pipefail; vcat --to npy x.vt -o x.npy && vassign -q -c c.vt --top 2 x.npy | cmp - whole.vt'
	run -0 --separate-stderr vassign --help
	assert_line --index 0 --partial "Usage: vassign -c IVF_CENTROIDS"
	assert_equal "$stderr" ''
}

# ---- --sort: the labels in (partition, id) order --------------------------

# sorted_ok U S X V OFF: the labels S.*.npy are U.*.npy sorted stably by
# (partition 0, id); OFF.npy are the offsets of the partitions; V.npy (if
# not "-") the rows X.npy in that order.
sorted_ok() {
	"$PY" - "$@" <<'EOF'
import sys
import numpy as np
u, s, xf, vf, of = sys.argv[1:6]
I = np.load(u + ".ids.npy"); P = np.load(u + ".partitions.npy")
o = np.lexsort((np.arange(len(I)), I, P[:, 0]))   # stable: input order last
for a in ("ids", "partitions", "distances", "codes"):
    try:
        A = np.load(u + "." + a + ".npy")
    except FileNotFoundError:
        continue
    B = np.load(s + "." + a + ".npy")
    assert A.dtype == B.dtype and A.shape == B.shape, a
    assert np.array_equal(A[o], B), a
k = int(sys.argv[6])
off = np.load(of)
assert off.dtype == np.int64 and off.shape == (k + 1,), (off.dtype, off.shape)
ref = np.concatenate([[0], np.cumsum(np.bincount(P[:, 0], minlength=k))])
assert np.array_equal(off, ref), (off, ref)
if vf != "-":
    x = np.load(xf); v = np.load(vf)
    assert v.dtype == np.float32 and np.array_equal(x[o], v)
print("ok")
EOF
}

@test "vassign --sort: the labels, with codes, are a stable numpy sort by (partition, id)" {
	need_numpy
	setup_data
	vpq -q -c c.vt -m 2 --nbits 5 -o pq.vt x.vt
	# ids out of input order: the second half first
	vcat --ids --rows 1500: -o h2.vt x.vt
	vcat --ids --rows 0:1500 -o h1.vt x.vt
	vcat -o in.vt h2.vt h1.vt
	vassign -q -c c.vt --pq pq.vt --top 2 -o u.vt in.vt
	run -0 --separate-stderr vassign -c c.vt --pq pq.vt --top 2 --sort --offsets off.npy \
		--vectors-out v.vt -o s.vt in.vt
	assert_err "runs=1 "
	run -0 meta order s.vt
	assert_output partition
	run -0 meta order v.vt
	assert_output partition
	run -0 vcat --info v.vt
	assert_line "kind: vectors"
	assert_line "columns: ids"
	assert_line "rows: 3000"
	for f in u s in v; do vcat --to npy -o $f.npy $f.vt; done
	run -0 sorted_ok u s in.npy v.npy off.npy 24
	assert_output ok
	# the vectors' ids are the labels' ids
	run -0 bash -c 'diff <(vcat --to text s.vt | cut -d" " -f1) <(vcat --ids --to text v.vt | cut -d" " -f1)'
	# text export of a sorted stream
	run -0 bash -c 'set -o pipefail; vcat --to text s.vt | wc -l'
	assert_output 3000
}

@test "vassign --sort: SQ codes sort with their rows, in one run or many" {
	need_numpy
	setup_data
	vsqbounds -q -c c.vt --mode dim -o sd.vt x.vt
	vassign -q -c c.vt --sq sd.vt -o u.vt x.vt
	vassign -q -c c.vt --sq sd.vt --sort --offsets off.npy -o s.vt x.vt
	vassign -q -c c.vt --sq sd.vt --sort --budget 4K --offsets off2.npy -o s2.vt x.vt
	run -0 cmp s.vt s2.vt
	run -0 cmp off.npy off2.npy
	run -0 meta codes s.vt
	assert_output sq
	for f in u s x; do vcat --to npy -o $f.npy $f.vt; done
	run -0 sorted_ok u s x.npy - off.npy 24
	assert_output ok
}

@test "vassign --sort: rows of one id keep their input order" {
	need_numpy
	setup_data
	vgen -n 1000 -d 16 --means 20 --seed 9 -o y.vt
	vcat --ids --rows 0:1000 -o a.vt x.vt
	vcat --ids -o b.vt y.vt
	vcat -o in.vt a.vt b.vt a.vt     # ids 0..999 three times, two of them the same rows
	vassign -q -c c.vt -o u.vt in.vt
	vassign -q -c c.vt --sort --budget 3K --offsets off.npy --vectors-out v.vt -o s.vt in.vt
	for f in u s in v; do vcat --to npy -o $f.npy $f.vt; done
	run -0 sorted_ok u s in.npy v.npy off.npy 24
	assert_output ok
}

@test "vassign --sort: many runs give the bytes of one, whatever -j and --batch-rows" {
	setup_data
	vpq -q -c c.vt -m 4 --nbits 6 -o pq.vt x.vt
	mkdir tmp
	run -0 --separate-stderr vassign -c c.vt --pq pq.vt --sort --tmpdir tmp \
		--offsets o1.npy --vectors-out v1.vt -o s1.vt x.vt
	assert_err "runs=1 "
	run -0 --separate-stderr vassign -v -c c.vt --pq pq.vt --sort --budget 2K --tmpdir tmp \
		-j 1 --batch-rows 77 --offsets o2.npy --vectors-out v2.vt -o s2.vt x.vt
	runs=$(kv runs "$(grep rows= <<<"$stderr")")
	[ "$runs" -gt 50 ] || fail "only $runs runs with --budget 2K"
	assert_err_regex "sort: $runs runs of at most [0-9]+ rows, [1-9][0-9]* bytes spilled"
	run -0 cmp s1.vt s2.vt
	run -0 cmp v1.vt v2.vt
	run -0 cmp o1.npy o2.npy
	# the runs' file was unlinked at once: nothing is left in --tmpdir
	run -0 ls -A tmp
	assert_output ''
	# the same with lz4, and from a pipe
	run -0 bash -c 'set -o pipefail; vcat x.vt | vassign -q -c c.vt --pq pq.vt --sort --budget 5K --tmpdir tmp -z | vcat | cmp - s1.vt'
	# TMPDIR is the default
	run -0 bash -c 'TMPDIR=tmp vassign -q -c c.vt --pq pq.vt --sort --budget 5K x.vt | cmp - s1.vt'
}

@test "vassign --sort: errors" {
	setup_data
	run -2 --separate-stderr vassign -c c.vt --offsets o.npy -o l.vt x.vt
	assert_usage_error vassign "--offsets applies to --sort only"
	run -2 --separate-stderr vassign -c c.vt --budget 1M -o l.vt x.vt
	assert_usage_error vassign "--budget applies to --sort only"
	run -2 --separate-stderr vassign -c c.vt --vectors-out v.vt -o l.vt x.vt
	assert_usage_error vassign "--vectors-out applies to --sort only"
	run -2 --separate-stderr vassign -c c.vt --tmpdir . -o l.vt x.vt
	assert_usage_error vassign "--tmpdir applies to --sort only"
	run -2 --separate-stderr vassign -c c.vt --sort --budget 12X -o l.vt x.vt
	assert_usage_error vassign "--budget: '12X' is not a size"
	run -2 --separate-stderr vassign -c c.vt --sort --budget 0 -o l.vt x.vt
	assert_usage_error vassign "--budget: '0' is not a size"
	run -2 --separate-stderr vassign -c c.vt --sort --offsets l.vt -o l.vt x.vt
	assert_usage_error vassign "--offsets l.vt: give a file of its own"
	assert_no_leftovers l.vt
	run -1 --separate-stderr vassign -q -c c.vt --sort --tmpdir nodir --offsets o.npy -o l.vt x.vt
	assert_err "vassign: --tmpdir nodir: No such file or directory"
	assert_no_leftovers l.vt
	assert_no_leftovers o.npy
	touch afile
	run -1 --separate-stderr vassign -q -c c.vt --sort --tmpdir afile --vectors-out v.vt -o l.vt x.vt
	assert_err "vassign: --tmpdir afile: not a directory"
	assert_no_leftovers l.vt
	assert_no_leftovers v.vt
	# a failure in the middle of the pass leaves no output
	head -c 100000 x.vt >cut.vt
	run -1 --separate-stderr vassign -q -c c.vt --sort --offsets o.npy --vectors-out v.vt -o l.vt cut.vt
	assert_err "cut.vt: frame 1: truncated stream"
	assert_no_leftovers l.vt
	assert_no_leftovers o.npy
	assert_no_leftovers v.vt
}

@test "vassign --sort: a full --tmpdir is an error that names it" {
	is_sanitized && skip "ulimit -f under a sanitizer"
	setup_data
	mkdir small
	# a file size limit stands in for a full disk: the runs cannot grow
	run -1 --separate-stderr bash -c 'trap "" XFSZ; ulimit -f 8; vassign -q -c c.vt --sort --budget 2K --tmpdir small -o /dev/null x.vt'
	assert_err "vassign: small: cannot write the sorted runs: File too large"
}

@test "vmerge: labels sorted by partition merge in (partition, id) order; concatenating them is refused" {
	setup_data
	vpq -q -c c.vt -m 4 --nbits 6 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt --sort -o whole.vt x.vt
	vcat --rows 0:1100 -o s1.vt x.vt
	vcat --rows 1100: -o s2.vt x.vt
	vassign -q -c c.vt --pq pq.vt --sort -o l1.vt s1.vt
	vassign -q -c c.vt --pq pq.vt --sort --offset 1100 -o l2.vt s2.vt
	vmerge -q -o m.vt l2.vt l1.vt
	vmerge -q -o mw.vt whole.vt
	run -0 cmp m.vt mw.vt
	run -0 meta order m.vt
	assert_output partition
	run -0 bash -c 'diff <(vcat --to text m.vt) <(vcat --to text whole.vt)'
	# with unsorted labels: refused
	vassign -q -c c.vt --pq pq.vt --offset 1100 -o u2.vt s2.vt
	run -1 --separate-stderr vmerge -q -o m2.vt l1.vt u2.vt
	assert_err "u2.vt: cannot be merged with l1.vt: labels with order (none), but the first input has partition"
	assert_no_leftovers m2.vt
	# concatenated, the order would be false: every reader refuses it
	run -1 --separate-stderr vcat -o cat.vt l1.vt l2.vt
	assert_err "l2.vt: row 1100: partition 0, id"
	assert_err "not in the (partition, id) order that its metadata order=partition says"
	assert_no_leftovers cat.vt
	run -1 --separate-stderr bash -c 'cat l1.vt l2.vt | vcat --to npy -o c.npy'
	assert_err "not in the (partition, id) order"
	# one sorted stream copies through, its order kept
	run -0 bash -c 'set -o pipefail; vcat -z whole.vt | vcat | cmp - whole.vt'
}

@test "vassign --sort: FAISS IVF-PQ and IVF-Flat lists filled from the sorted labels, offsets and rows equal index.add" {
	need_numpy
	need_faiss
	setup_data
	vpq -q -c c.vt -m 4 --nbits 8 -o pq.vt x.vt
	vassign -q -c c.vt --pq pq.vt --sort --budget 8K --offsets off.npy --vectors-out lists.vt \
		-o l.vt x.vt
	for f in x c pq lists; do vcat --to npy -o $f.npy $f.vt; done
	vcat --to npy -o l.npy l.vt
	# the recipe of docs/INTEROP.md, "Inverted lists sorted by partition"
	run -0 "$PY" - <<'EOF2'
import numpy as np, faiss
from faiss.contrib.inspect_tools import get_invlist
x = np.load("x.npy"); C = np.load("c.npy"); B = np.load("pq.npy")
off = np.load("off.npy"); ids = np.load("l.ids.npy"); codes = np.load("l.codes.npy")
xs = np.load("lists.npy")
k, d = C.shape
M, ksub, dsub = B.shape
def make(flat):
    q = faiss.IndexFlatL2(d)
    q.add(C)
    if flat:
        ix = faiss.IndexIVFFlat(q, d, k)
    else:
        ix = faiss.IndexIVFPQ(q, d, k, M, int(np.log2(ksub)))
        faiss.copy_array_to_vector(B.ravel(), ix.pq.centroids)
        ix.precompute_table()
    ix.is_trained = True
    return ix, q
out = []
for flat in (False, True):
    ref, q1 = make(flat)
    ref.add_with_ids(x, np.arange(len(x), dtype=np.int64))
    pre, q2 = make(flat)
    data = xs.view(np.uint8) if flat else codes
    for l in range(k):
        a, b = int(off[l]), int(off[l + 1])
        if b > a:
            pre.invlists.add_entries(l, b - a, faiss.swig_ptr(ids[a:b]), faiss.swig_ptr(data[a:b]))
    pre.ntotal = len(ids)
    same = sum(all(np.array_equal(u, v) for u, v in
                   zip(get_invlist(ref.invlists, l), get_invlist(pre.invlists, l)))
               for l in range(k))
    ref.nprobe = pre.nprobe = 4
    Da, Ia = ref.search(x[::7], 10)
    Db, Ib = pre.search(x[::7], 10)
    out.append("%s lists %d/%d search %s" % ("flat" if flat else "pq", same, k,
               np.array_equal(Ia, Ib) and np.array_equal(Da, Db)))
print("; ".join(out))
EOF2
	assert_output "pq lists 24/24 search True; flat lists 24/24 search True"
}
