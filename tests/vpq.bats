#!/usr/bin/env bats
# vpq: PQ codebook training on residuals.

load helpers

# x.vt: 2000 x 16 rows around 20 means; ivf.vt: 8 IVF centroids of them.
make_data() {
	vgen -n 2000 -d 16 --means 20 --seed 3 -o x.vt
	vkmeans -q -k 8 --seed 1 -o ivf.vt x.vt
}

# brute_mse X.npy CODEBOOK.raw M NBITS [IVF.npy] [cosine]: the reconstruction
# MSE of the codebook on the rows (normalised for cosine; minus their
# nearest IVF centroid if given), all in float64 by numpy.
brute_mse() {
	"$PY" - "$@" <<'EOF'
import sys
import numpy as np
x = np.load(sys.argv[1]).astype(np.float64)
M, nbits = int(sys.argv[3]), int(sys.argv[4])
ivf = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
if len(sys.argv) > 6 and sys.argv[6] == "cosine":
    x /= np.linalg.norm(x, axis=1, keepdims=True)
if ivf:
    c = np.load(ivf).astype(np.float64)
    d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    x = x - c[d.argmin(1)]
n, dim = x.shape
cb = np.fromfile(sys.argv[2], dtype="<f4").astype(np.float64).reshape(M, 1 << nbits, dim // M)
err = 0.0
for m in range(M):
    s = x[:, m * (dim // M):(m + 1) * (dim // M)]
    d = ((s[:, None, :] - cb[m][None, :, :]) ** 2).sum(-1)
    err += d.min(1).sum()
print("%.17g" % (err / n))
EOF
}

# rel_close A B TOL: |A - B| <= TOL * |B|
rel_close() {
	"$PY" -c "import sys; a, b, t = map(float, sys.argv[1:]); sys.exit(0 if abs(a - b) <= t * abs(b) else 1)" "$@"
}

@test "vpq: trains a codebook on residuals, with its metadata" {
	make_data
	run -0 --separate-stderr vpq -c ivf.vt -m 4 --nbits 4 -o pq.vt x.vt
	assert_output ''
	assert_err_regex '^vpq: m=4 nbits=4 d=16 n=2000 mse=[0-9.e+-]+ time=[0-9.]+s$'
	run -0 vcat --info pq.vt
	assert_line "kind: pq"
	assert_line "dim: 4"
	assert_line "rows: 64"
	assert_line "columns: none"
	assert_line "meta.m: 4"
	assert_line "meta.nbits: 4"
	assert_line "meta.d: 16"
	assert_line "meta.metric: l2"
	assert_line "meta.seed: 1"
	assert_line "meta.iters: 25"
	assert_line "meta.residual: yes"
	assert_line "meta.n: 2000"
	assert_line --regexp '^meta.made_by: vpq '
	assert_line --regexp '^meta.mse: [0-9.e+-]+$'
	# centroids_id names the IVF centroids, as vloss --partial does
	vloss --partial -c ivf.vt -o acc.vt x.vt
	id=$(meta centroids_id acc.vt)
	assert_equal "$(meta centroids_id pq.vt)" "$id"
}

@test "vpq: the printed MSE equals a numpy brute force (residual, plain, cosine)" {
	need_numpy
	make_data
	vcat --to npy -o x.npy x.vt
	vcat --to npy -o ivf.npy ivf.vt
	run -0 --separate-stderr vpq -c ivf.vt -m 4 --nbits 4 --seed 2 -o pq.vt x.vt
	printed=$(kv mse "$stderr")
	vcat --to raw -o pq.raw pq.vt
	ref=$(brute_mse x.npy pq.raw 4 4 ivf.npy)
	rel_close "$printed" "$ref" 1e-6
	# (the residuals are float32 here, float64 in numpy)
	rel_close "$(meta mse pq.vt)" "$ref" 1e-6
	rel_close "$(meta mse pq.vt)" "$printed" 1e-9
	# the residuals are much smaller than the rows: the MSE is below that of
	# a codebook trained on the rows themselves
	run -0 --separate-stderr vpq --no-residual -m 8 --nbits 3 -o plain.vt x.vt
	printed=$(kv mse "$stderr")
	vcat --to raw -o plain.raw plain.vt
	ref=$(brute_mse x.npy plain.raw 8 3)
	rel_close "$printed" "$ref" 1e-6
	vkmeans -q -k 8 --metric=cosine -o cos.vt x.vt
	vcat --to npy -o cos.npy cos.vt
	run -0 --separate-stderr vpq -c cos.vt --metric cosine -m 2 --nbits 5 -o pqc.vt x.vt
	printed=$(kv mse "$stderr")
	vcat --to raw -o pqc.raw pqc.vt
	ref=$(brute_mse x.npy pqc.raw 2 5 cos.npy cosine)
	rel_close "$printed" "$ref" 1e-6
	assert_equal "$(meta metric pqc.vt)" cosine
}

@test "vpq: data that PQ represents exactly gives an MSE of about 0" {
	need_numpy
	# each 4-dim sub-vector is one of 8 values (sub-spaces 0, 1) or of only
	# 3 values (sub-spaces 2, 3): nbits 3 gives 8 centroids each
	"$PY" -c "
import numpy as np
r = np.random.default_rng(5)
vals = [r.normal(0, 10, (8 if m < 2 else 3, 4)) for m in range(4)]
x = np.hstack([v[r.integers(0, len(v), 3000)] for v in vals]).astype(np.float32)
np.save('x.npy', x)"
	run -0 --separate-stderr vpq --no-residual -m 4 --nbits 3 -o pq.vt x.npy
	assert_err "n=2048"
	run -0 "$PY" -c "import sys; v = float(sys.argv[1]); print(v < 1e-9, v >= 0)" "$(meta mse pq.vt)"
	assert_output "True True"
	# and a codebook of random data is far from 0
	vgen -n 3000 -d 16 --seed 1 -o g.vt
	vpq -q --no-residual -m 4 --nbits 3 -o g.pq.vt g.vt
	run -0 "$PY" -c "import sys; print(float(sys.argv[1]) > 1)" "$(meta mse g.pq.vt)"
	assert_output True
}

@test "vpq: the same seed gives the same bytes, whatever -j and the input format" {
	make_data
	vpq -q -c ivf.vt -m 4 --nbits 5 --seed 4 -j 1 -o a.vt x.vt
	vpq -q -c ivf.vt -m 4 --nbits 5 --seed 4 -j 2 -o b.vt x.vt
	vpq -q -c ivf.vt -m 4 --nbits 5 --seed 5 -j 2 -o c.vt x.vt
	assert_files_equal a.vt b.vt
	assert_files_not_equal a.vt c.vt
	vcat --to fvecs -o x.fvecs x.vt
	vcat -z --frame-bytes 4096 -o xz.vt x.vt
	vpq -q -c ivf.vt -m 4 --nbits 5 --seed 4 -o d.vt x.fvecs
	run -0 bash -c 'set -o pipefail; cat xz.vt | vpq -q -c ivf.vt -m 4 --nbits 5 --seed 4 -o e.vt'
	assert_files_equal a.vt d.vt
	assert_files_equal a.vt e.vt
}

@test "vpq: the sample is 256 x 2^nbits rows by default, or --sample; a small input is used whole" {
	make_data
	run -0 --separate-stderr vpq -c ivf.vt -m 4 --nbits 2 -o a.vt x.vt
	assert_err "n=1024"
	assert_equal "$(meta vpq.sample a.vt)" 1024
	assert_equal "$(meta vpq.input_rows a.vt)" 2000
	run -0 --separate-stderr vpq -c ivf.vt -m 4 --nbits 2 --sample 700 -o b.vt x.vt
	assert_err "n=700"
	# the sample depends on the seed
	vpq -q -c ivf.vt -m 4 --nbits 2 --sample 700 --seed 9 -o c.vt x.vt
	assert_files_not_equal b.vt c.vt
	# at most --sample rows: all of them, so any larger sample trains alike
	vpq -q -c ivf.vt -m 4 --nbits 2 --sample 2000 -o d.vt x.vt
	vpq -q -c ivf.vt -m 4 --nbits 2 --sample 50000 -o e.vt x.vt
	vcat --to raw -o d.raw d.vt
	vcat --to raw -o e.raw e.vt
	assert_files_equal d.raw e.raw
	assert_equal "$(meta n e.vt)" 2000
}

@test "vpq: --iters, -v and -q" {
	make_data
	run -0 --separate-stderr vpq -v -c ivf.vt -m 4 --nbits 3 --iters 7 -o a.vt x.vt
	assert_err_regex 'sub-space 0: loss=[0-9.e+-]+ mse=[0-9.e+-]+ iters=7 '
	assert_err 'sub-space 3: '
	assert_equal "$(meta iters a.vt)" 7
	run -0 --separate-stderr vpq -q -c ivf.vt -m 4 --nbits 3 -o b.vt x.vt
	assert_equal "$stderr" ''
	run -0 --separate-stderr vpq -q -c ivf.vt -m 4 --nbits 3 x.vt
	assert [ -n "$output" ]
}

@test "vpq: the same codebook with the search index forced and with brute force (k = 4096)" {
	setup_large_k
	run -0 --separate-stderr env VT_NEAREST=search vpq -v -c c.vt -m 4 --nbits 4 --iters 5 -o search.vt x.vt
	assert_err_regex 'vpq: residuals: nearest: mode=search k=4096 d=16 .* certified=(9[0-9]|100)\.[0-9]+% round1=[1-9]'
	VT_NEAREST=brute vpq -q -c c.vt -m 4 --nbits 4 --iters 5 -o brute.vt x.vt
	cmp search.vt brute.vt
}

@test "vpq: NaN rows are dropped and counted" {
	# 4 rows of 2, the second one NaN
	printf '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\xc0\x7f\x00\x00\x80\x3f' >r.raw
	printf '\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\xa0\x40\x00\x00\xc0\x40' >>r.raw
	vcat --from raw --dim 2 -o nan.vt r.raw
	run -0 --separate-stderr vpq --no-residual -m 2 --nbits 1 -o pq.vt nan.vt
	assert_err "dropped 1 rows with NaN or infinite values"
	assert_err "n=3"
	assert_equal "$(meta vpq.nonfinite pq.vt)" 1
}

# --- errors -----------------------------------------------------------------

@test "vpq: usage errors print nothing on stdout" {
	make_data
	run -2 --separate-stderr vpq -c ivf.vt x.vt
	assert_usage_error vpq "-m is required"
	run -2 --separate-stderr vpq -m 4 x.vt
	assert_usage_error vpq "-c IVF_CENTROIDS is required"
	run -2 --separate-stderr vpq -c ivf.vt --no-residual -m 4 x.vt
	assert_usage_error vpq "--no-residual"
	run -2 --separate-stderr vpq -c ivf.vt -m 4 --nbits 0 x.vt
	assert_usage_error vpq "--nbits"
	run -2 --separate-stderr vpq -c ivf.vt -m 4 --nbits 17 x.vt
	assert_usage_error vpq "--nbits"
	run -2 --separate-stderr vpq -c ivf.vt -m 4 --sample 100 x.vt
	assert_usage_error vpq "--sample 100 is smaller than the 2^8 = 256 centroids"
	run -2 --separate-stderr vpq -c ivf.vt -m 0 x.vt
	assert_usage_error vpq "-m"
	run -2 --separate-stderr vpq -c ivf.vt -m 4 --metric=ip x.vt
	assert_usage_error vpq "--metric"
	run -2 --separate-stderr vpq -c ivf.vt -m 4 --frobnicate x.vt
	assert_usage_error vpq "unknown option"
	run -0 vpq --help
	assert_output --partial "Usage: vpq"
	run -0 vpq --version
	assert_output --regexp '^vpq \(vtrain\) '
}

@test "vpq: codebooks of 4, 10 and 16 bits are FAISS's ProductQuantizer layout (M, 2^nbits, d/M)" {
	need_numpy
	"$PY" -c 'import faiss' 2>/dev/null || skip "needs Debian's python3-faiss"
	vgen -q -n 5000 -d 16 --means 30 --seed 2 -o x.vt
	vcat --to npy -o x.npy x.vt
	local cases="4:4 10:4"
	# 16 bits trains 65,536 centroids per sub-space (about 40 s of k-means++
	# on one core); the sanitizer build, 3x slower, leaves it to this one
	if ! is_sanitized; then
		vgen -q -n 65536 -d 2 --means 50 --seed 2 -o x16.vt
		cases+=" 16:1"
	fi
	local c nbits m f
	for c in $cases; do
		nbits=${c%:*} m=${c#*:} f=x.vt
		[ "$nbits" = 16 ] && f=x16.vt
		vpq -q --no-residual -m "$m" --nbits "$nbits" --iters 1 -o "pq$nbits.vt" "$f"
		assert_equal "$(meta nbits "pq$nbits.vt")" "$nbits"
		vcat --to npy -o "pq$nbits.npy" "pq$nbits.vt"
		vcat --to npy -o "$f.npy" "$f"
		# FAISS's codes of our codebook decode to the nearest codewords
		# (numpy, float64); code_size packs M x nbits bits
		run -0 "$PY" - "$nbits" "$m" "$f.npy" <<'EOF2'
import sys
import numpy as np, faiss
nbits, M, xf = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
B = np.load("pq%d.npy" % nbits)
x = np.load(xf)[:3000]
n, d = x.shape
assert B.shape == (M, 1 << nbits, d // M) and B.dtype == np.float32, B.shape
pq = faiss.ProductQuantizer(d, M, nbits)
faiss.copy_array_to_vector(B.ravel(), pq.centroids)
assert pq.code_size == (M * nbits + 7) // 8, pq.code_size
rec = pq.decode(pq.compute_codes(x)).astype(np.float64)
ds = d // M
bad = 0
for m in range(M):
    xs = x[:, m * ds:(m + 1) * ds].astype(np.float64)
    C = B[m].astype(np.float64)
    dist = ((xs[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    best = dist.min(1)
    got = ((xs - rec[:, m * ds:(m + 1) * ds]) ** 2).sum(-1)
    bad += int((np.abs(got - best) > 1e-5 * (1 + best)).sum())
print("nbits", nbits, "rows off the nearest codeword", bad)
EOF2
		assert_output "nbits $nbits rows off the nearest codeword 0"
	done
	# vassign writes codes of one byte: a codebook of more bits is refused
	vkmeans -q -k 8 -o ivf.vt x.vt
	vpq -q -c ivf.vt -m 4 --nbits 10 --iters 1 -o pqr10.vt x.vt
	run -1 --separate-stderr vassign -c ivf.vt --pq pqr10.vt x.vt
	assert_err "pqr10.vt: nbits=10: vassign writes one byte per code, so nbits must be 1 to 8"
}

@test "vpq: d not divisible by -m, and fewer rows than 2^nbits" {
	vgen -n 300 -d 130 --seed 1 -o x130.vt
	run -1 --separate-stderr vpq --no-residual -m 16 -o pq.vt x130.vt
	assert_output ''
	assert_err "x130.vt: d=130 is not divisible by -m 16"
	assert_no_leftovers pq.vt
	vgen -n 65 -d 16 --seed 1 -o x65.vt
	run -1 --separate-stderr vpq --no-residual -m 4 -o pq.vt x65.vt
	assert_err "x65.vt: 65 rows: PQ with 8 bits needs at least 256"
	assert_no_leftovers pq.vt
	run -0 vpq -q --no-residual -m 4 --nbits 6 -o pq.vt x65.vt
	assert_equal "$(meta nbits pq.vt)" 6
}

@test "vpq: centroids of another dimension or metric, unnormalised for cosine" {
	need_numpy
	make_data
	vgen -n 100 -d 8 --seed 1 -o x8.vt
	vkmeans -q -k 4 -o c8.vt x8.vt
	run -1 --separate-stderr vpq -c c8.vt -m 4 -o pq.vt x.vt
	assert_err "c8.vt: centroids have dimension 8, but x.vt has 16"
	assert_no_leftovers pq.vt
	run -1 --separate-stderr vpq -c ivf.vt --metric=cosine -m 4 -o pq.vt x.vt
	assert_err "vpq: ivf.vt: made with metric=l2, but --metric=cosine was given"
	# the model's metric is the run's: cos.vt trains cosine residuals
	vkmeans -q -k 8 --metric=cosine -o cos.vt x.vt
	run -0 --separate-stderr vpq -q -c cos.vt -m 4 -o pq.vt x.vt
	run -0 vcat --info pq.vt
	assert_line "meta.metric: cosine"
	rm pq.vt
	# centroids without a metric (a .npy) must be unit vectors for cosine
	vcat --to npy -o ivf.npy ivf.vt
	run -1 --separate-stderr vpq -c ivf.npy --metric=cosine -m 4 -o pq.vt x.vt
	assert_err_regex "ivf.npy: centroid 0 has norm [0-9.]+; --metric=cosine needs normalised"
	assert_no_leftovers pq.vt
	vcat --to npy -o cos.npy cos.vt
	run -0 vpq -q -c cos.npy --metric=cosine -m 4 --nbits 4 -o pq.vt x.vt
	assert_equal "$(meta residual pq.vt)" yes
}

@test "vpq: a truncated input fails naming the file and leaves no output" {
	vgen -n 1000 -d 8 --seed 1 -o x.vt
	head -c 5000 x.vt >cut.vt
	run -1 --separate-stderr vpq --no-residual -m 2 --nbits 2 -o pq.vt cut.vt
	assert_err "cut.vt: frame 1: truncated"
	assert_no_leftovers pq.vt
	head -c 40 x.vt >hdr.vt
	run -1 --separate-stderr vpq --no-residual -m 2 --nbits 2 -o pq.vt hdr.vt
	assert_err "hdr.vt"
	assert_no_leftovers pq.vt
}

@test "vpq: the wrong kind of input, a missing file" {
	make_data
	run -1 --separate-stderr vpq --no-residual -m 2 ivf.vt
	assert_output ''
	assert_err "ivf.vt: is a centroids stream; vpq reads vectors"
	run -1 --separate-stderr vpq --no-residual -m 2 missing.vt
	assert_err "missing.vt: No such file or directory"
	run -1 --separate-stderr vpq -c missing.vt -m 2 -o pq.vt x.vt
	assert_err "missing.vt"
	assert_no_leftovers pq.vt
}
