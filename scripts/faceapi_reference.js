// Runs face-api.js itself (TF.js CPU backend, plain Node) on inputs prepared by
// scripts/make_faceapi_reference.py and prints its outputs as JSON.
//
//   node scripts/faceapi_reference.js FACE_API_PACKAGE_DIR JOBS.json > OUT.json
//
// FACE_API_PACKAGE_DIR is the unpacked @vladmandic/face-api tarball (its `package` folder); the
// folder this runs from must resolve @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm 4.22.0
// (face-api's node-wasm bundle requires both; only the CPU backend is used). JOBS.json holds
//   crops:  [{name, pixels}]          112x112x3 uint8 RGB, base64: expression logits + probabilities
//   photos: [{name, height, width, pixels}]  whole photos: face-api's own pipeline (SSD MobileNet
//           detection, 68 landmarks, expressions of the detection box and of the aligned box).
//   landmark_crops:  [{name, pixels}]   112x112x3 uint8 RGB: the raw outputs (136 numbers) of
//           FaceLandmark68Net and FaceLandmark68TinyNet
//   landmark_photos: [{name, height, width, pixels}]  SSD detection box and the 68 landmarks of
//           both landmark nets, in photo pixels.
'use strict';

const fs = require('fs');
const path = require('path');

const [pkgDir, jobsPath] = process.argv.slice(2);
const faceapi = require(path.join(pkgDir, 'dist', 'face-api.node-wasm.js'));
const { tf } = faceapi;

function loadNet(net, name) {
  const dir = path.join(pkgDir, 'model');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, `${name}-weights_manifest.json`)));
  const specs = [];
  const buffers = [];
  for (const group of manifest) {
    for (const file of group.paths) buffers.push(fs.readFileSync(path.join(dir, file)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  net.loadFromWeightMap(tf.io.decodeWeights(data, specs));
}

function tensorOf(b64, height, width) {
  const bytes = Buffer.from(b64, 'base64');
  return tf.tensor3d(new Uint8Array(bytes), [height, width, 3], 'int32');
}

function rect(box) {
  return [box.x, box.y, box.x + box.width, box.y + box.height];
}

(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  const jobs = JSON.parse(fs.readFileSync(jobsPath));
  loadNet(faceapi.nets.faceExpressionNet, 'face_expression_model');
  const out = { versions: { faceapi: faceapi.version, tfjs: tf.version_core, backend: tf.getBackend() }, crops: {}, photos: {} };

  for (const crop of jobs.crops || []) {
    const x = tensorOf(crop.pixels, 112, 112);
    const netInput = await faceapi.toNetInput(x);
    const logits = faceapi.nets.faceExpressionNet.runNet(netInput);
    const probs = tf.softmax(logits);
    out.crops[crop.name] = { logits: Array.from(logits.dataSync()), probs: Array.from(probs.dataSync()) };
    tf.dispose([x, logits, probs]);
  }

  const landmarkCrops = jobs.landmark_crops || [];
  const landmarkPhotos = jobs.landmark_photos || [];
  if (landmarkCrops.length || landmarkPhotos.length) {
    loadNet(faceapi.nets.faceLandmark68Net, 'face_landmark_68_model');
    loadNet(faceapi.nets.faceLandmark68TinyNet, 'face_landmark_68_tiny_model');
    out.landmark_crops = {};
    out.landmark_photos = {};
  }
  for (const crop of landmarkCrops) {
    const x = tensorOf(crop.pixels, 112, 112);
    const netInput = await faceapi.toNetInput(x);
    const full = faceapi.nets.faceLandmark68Net.runNet(netInput);
    const tiny = faceapi.nets.faceLandmark68TinyNet.runNet(netInput);
    out.landmark_crops[crop.name] = { full: Array.from(full.dataSync()), tiny: Array.from(tiny.dataSync()) };
    tf.dispose([x, full, tiny]);
  }
  if (landmarkPhotos.length) {
    loadNet(faceapi.nets.ssdMobilenetv1, 'ssd_mobilenetv1_model');
    const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
    for (const photo of landmarkPhotos) {
      const x = tensorOf(photo.pixels, photo.height, photo.width);
      const full = await faceapi.detectAllFaces(x, options).withFaceLandmarks();
      const tiny = await faceapi.detectAllFaces(x, options).withFaceLandmarks(true);
      out.landmark_photos[photo.name] = full.map((r, i) => ({
        score: r.detection.score,
        box: rect(r.detection.box),
        full: r.landmarks.positions.map((p) => [p.x, p.y]),
        tiny: tiny[i] ? tiny[i].landmarks.positions.map((p) => [p.x, p.y]) : null,
      }));
      tf.dispose(x);
    }
  }

  if ((jobs.photos || []).length) {
    loadNet(faceapi.nets.ssdMobilenetv1, 'ssd_mobilenetv1_model');
    loadNet(faceapi.nets.faceLandmark68Net, 'face_landmark_68_model');
    const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
    for (const photo of jobs.photos) {
      const x = tensorOf(photo.pixels, photo.height, photo.width);
      const withLandmarks = await faceapi.detectAllFaces(x, options).withFaceLandmarks().withFaceExpressions();
      const plain = await faceapi.detectAllFaces(x, options).withFaceExpressions();
      out.photos[photo.name] = withLandmarks.map((r, i) => ({
        score: r.detection.score,
        box: rect(r.detection.box),
        aligned_box: rect(r.alignedRect.box),
        landmarks: r.landmarks.positions.map((p) => [p.x, p.y]),
        expressions_aligned: { ...r.expressions },
        expressions_box: plain[i] ? { ...plain[i].expressions } : null,
      }));
      tf.dispose(x);
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
})();
