// Check exported models in onnxruntime-node (the daemon's runtime): load, I/O names, PublicTest accuracy
// (one step from zero state), fp32 vs int8 agreement, per-face step latency (batch 1, one thread), and dump
// the ORT-optimised graph (to see QDQ fusion). Usage:
//   node models/check_ort.cjs WORKDIR model1.onnx [model2.onnx ...]   (WORKDIR has publictest.f32/.labels.u8)
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '..', 'node_modules', 'onnxruntime-node'));

async function main() {
  const [work, ...models] = process.argv.slice(2);
  const xs = fs.readFileSync(path.join(work, 'publictest.f32'));
  const ys = fs.readFileSync(path.join(work, 'publictest.labels.u8'));
  const X = new Float32Array(xs.buffer, xs.byteOffset, xs.length / 4);
  const N = ys.length;
  const results = {};
  const preds = {};
  for (const file of models) {
    const opt = path.join(work, path.basename(file, '.onnx') + '.ort-optimized.onnx');
    const mk = (threads, dump) => ort.InferenceSession.create(file, {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      ...(dump ? { optimizedModelFilePath: opt } : {}) });
    const s = await mk(1, true);
    const hidden = parseInt(process.env.HIDDEN || '64');
    const B = 64;
    let correct = 0;
    const pred = new Uint8Array(N);
    for (let i = 0; i < N; i += B) {
      const b = Math.min(B, N - i);
      const face = new ort.Tensor('float32', X.subarray(i * 2304, (i + b) * 2304), [b, 1, 48, 48]);
      const z = new ort.Tensor('float32', new Float32Array(b * hidden), [b, hidden]);
      const out = await s.run({ face, h: z, c: new ort.Tensor('float32', new Float32Array(b * hidden), [b, hidden]) });
      const p = out.probs.data;
      for (let k = 0; k < b; k++) {
        let best = 0;
        for (let j = 1; j < 6; j++) if (p[k * 6 + j] > p[k * 6 + best]) best = j;
        pred[i + k] = best;
        if (best === ys[i + k]) correct++;
      }
    }
    preds[file] = pred;
    // latency: batch 1, one thread, carrying state
    const s1 = await mk(1, false);
    let h = new ort.Tensor('float32', new Float32Array(hidden), [1, hidden]);
    let c = new ort.Tensor('float32', new Float32Array(hidden), [1, hidden]);
    const runs = 2000;
    let t0 = 0;
    for (let r = 0; r < runs + 200; r++) {
      if (r === 200) t0 = process.hrtime.bigint();
      const face = new ort.Tensor('float32', X.subarray((r % N) * 2304, (r % N + 1) * 2304), [1, 1, 48, 48]);
      const o = await s1.run({ face, h, c });
      h = o.h_out; c = o.c_out;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs;
    results[path.basename(file)] = { inputs: s.inputNames, outputs: s.outputNames, hidden,
      publictest_acc_step1: correct / N, n: N, ms_per_step_b1_1thread: ms,
      bytes: fs.statSync(file).size, optimized_graph: opt };
  }
  const names = Object.keys(preds);
  if (names.length === 2) {
    const [a, b] = names.map(n => preds[n]);
    let agree = 0;
    for (let i = 0; i < N; i++) if (a[i] === b[i]) agree++;
    results.agreement = agree / N;
  }
  console.log(JSON.stringify(results, null, 1));
}
main().catch(e => { console.error(e); process.exit(1); });
