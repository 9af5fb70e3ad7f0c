// ONNX Runtime (onnxruntime-node, CPU) peer for bench/bench_int8.py: runs an ONNX file on a
// random batch and prints "ort cnn X img/s" (images per second after one warm-up batch), so the
// driver can interleave it with irbis' bench_cnn. With --save, also writes the outputs of a
// fixed input (raw float32) for the driver's accuracy check.
//   node bench/ort_peer.js MODEL.onnx --batch 16 --threads 2 --images 96 [--input x.bin --save y.bin]
const ort = require('onnxruntime-node');
const fs = require('fs');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

async function main() {
  const model = process.argv[2];
  const batch = +arg('--batch', 16), threads = +arg('--threads', 2), images = +arg('--images', 96);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential'});
  const inName = sess.inputNames[0], outName = sess.outputNames[0];
  const size = +arg('--size', 224);
  const per = 3 * size * size;
  if (arg('--input')) { // accuracy: the driver's images, one run of their count
    const buf = fs.readFileSync(arg('--input'));
    const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const n = x.length / per;
    const r = await sess.run({[inName]: new ort.Tensor('float32', x, [n, 3, size, size])});
    fs.writeFileSync(arg('--save'), Buffer.from(r[outName].data.buffer));
    return;
  }
  const x = new Float32Array(batch * per);
  let seed = 1;
  for (let i = 0; i < x.length; i++) { seed = (seed * 1103515245 + 12345) % 2147483648; x[i] = seed / 2147483648 * 4 - 2; }
  const feeds = {[inName]: new ort.Tensor('float32', x, [batch, 3, size, size])};
  await sess.run(feeds); // warm-up
  const t0 = process.hrtime.bigint();
  let done = 0;
  while (done < images) { await sess.run(feeds); done += batch; }
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`ort ${model} batch ${batch} threads ${threads}: ${done} images in ${t.toFixed(2)} s  cnn ${(done / t).toFixed(2)} img/s`);
}
main().catch(e => { console.error(e.message || e); process.exit(1); });
