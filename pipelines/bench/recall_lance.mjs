// LanceDB side of the recall benchmark (issue 16, recall.sh).
//
// Usage: node recall_lance.mjs NODE_DIR DB_DIR BASE.npy QUERIES.npy GT.npy K M NPROBES
//
// NODE_DIR holds node_modules/@lancedb/lancedb (npm i -E @lancedb/lancedb@0.31.0;
// apache-arrow comes with it).  Writes the rows of BASE (float32 (n, d))
// into a new Lance table in DB_DIR (columns id, vector), builds Lance's own
// IVF_PQ index on it (K partitions, M sub-vectors, 8 bits, l2; Lance's
// defaults otherwise), then searches each query of QUERIES at each nprobe
// of NPROBES (comma-separated), with no refine step, and scores the top 10
// against GT (int32 (nq, 10)).  Prints on stdout
//   write SECONDS        the table write
//   build SECONDS        createIndex: Lance's training, encoding and writing
//   ivfpq lance NPROBE RECALL -     (Lance reports no distance count)
//   search NPROBE SECONDS           the nq queries, one after another
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

function usage() {
  process.stderr.write("usage: node recall_lance.mjs NODE_DIR DB_DIR BASE.npy QUERIES.npy GT.npy K M NPROBES\n");
  process.exit(2);
}

// readNpy(file): {shape, data} of a C-order .npy of float32 or int32.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString("latin1", 0, 6) !== "\x93NUMPY")
    throw new Error(`${file}: not an .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.toString("latin1", major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "")
    .split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const count = shape.reduce((a, b) => a * b, 1);
  const Type = { "<f4": Float32Array, "<i4": Int32Array }[descr];
  if (!Type) throw new Error(`${file}: element type ${descr} (want <f4 or <i4)`);
  if (buf.length < start + count * 4) throw new Error(`${file}: truncated`);
  // a copy: the Buffer's memory need not be 4-byte aligned
  const data = new Type(count);
  new Uint8Array(data.buffer).set(buf.subarray(start, start + count * 4));
  return { shape, data };
}

async function main() {
  const a = process.argv.slice(2);
  if (a.length !== 8) usage();
  const [nodeDir, dbDir, baseFile, queryFile, gtFile] = a;
  const k = Number(a[5]), m = Number(a[6]);
  const nprobes = a[7].split(",").map(Number);
  const require = createRequire(path.join(path.resolve(nodeDir), "package.json"));
  const lancedb = require("@lancedb/lancedb");
  const arrow = require("apache-arrow");

  const base = readNpy(baseFile), queries = readNpy(queryFile), gt = readNpy(gtFile);
  const [n, d] = base.shape;
  const nq = queries.shape[0];
  const item = new arrow.Field("item", new arrow.Float32(), true);
  const listType = new arrow.FixedSizeList(d, item);
  const schema = new arrow.Schema([
    new arrow.Field("id", new arrow.Int32(), false),
    new arrow.Field("vector", listType, false),
  ]);
  // record batches of 65,536 rows, views of the one array (no copies)
  const batches = [];
  for (let r0 = 0; r0 < n; r0 += 65536) {
    const rows = Math.min(65536, n - r0);
    const ids = new Int32Array(rows);
    for (let i = 0; i < rows; i++) ids[i] = r0 + i;
    const values = arrow.makeData({ type: new arrow.Float32(), length: rows * d,
      data: base.data.subarray(r0 * d, (r0 + rows) * d) });
    const vectors = arrow.makeData({ type: listType, length: rows, nullCount: 0, child: values });
    const idData = arrow.makeData({ type: new arrow.Int32(), length: rows, data: ids });
    const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows,
      nullCount: 0, children: [idData, vectors] });
    batches.push(new arrow.RecordBatch(schema, struct));
  }
  const table = new arrow.Table(schema, batches);

  fs.rmSync(dbDir, { recursive: true, force: true });
  const db = await lancedb.connect(path.resolve(dbDir));
  let t = performance.now();
  const tbl = await db.createTable("base", table, { mode: "overwrite" });
  console.log(`write ${((performance.now() - t) / 1000).toFixed(2)}`);

  t = performance.now();
  await tbl.createIndex("vector", {
    config: lancedb.Index.ivfPq({ numPartitions: k, numSubVectors: m, numBits: 8, distanceType: "l2" }),
  });
  console.log(`build ${((performance.now() - t) / 1000).toFixed(2)}`);

  for (const p of nprobes) {
    let hits = 0;
    t = performance.now();
    for (let i = 0; i < nq; i++) {
      const q = queries.data.subarray(i * d, (i + 1) * d);
      const rows = await tbl.vectorSearch(q).distanceType("l2").nprobes(p).limit(10)
        .select(["id", "_distance"]).toArray();
      const truth = new Set(gt.data.subarray(i * 10, i * 10 + 10));
      for (const r of rows) if (truth.has(r.id)) hits++;
    }
    const secs = (performance.now() - t) / 1000;
    console.log(`ivfpq lance ${p} ${(hits / (10 * nq)).toFixed(4)} -`);
    console.log(`search ${p} ${secs.toFixed(2)}`);
  }
}

main().catch((e) => {
  process.stderr.write(`recall_lance.mjs: ${e.stack || e}\n`);
  process.exit(1);
});
