// Runs the pad reader's modules (mnist_cnn/web/pad/browser/) in Node on PNG drawings, and writes what
// they make of each, for tests/test_reader_parity.py to compare with the Python. No browser and no model:
// the probabilities are the Python model's. Each PNG is decoded to RGBA by pngjs, as a canvas's
// getImageData gives it (no colour conversion). Two steps, so that the first runs while the Python
// reads the same drawings:
//
//   node tests/js/read_drawings.mjs prepare JOB_FOLDER   # job.json: {settings, paths}
//       -> fields.bin (the 28x28 float32 field of each drawing with ink, in order) and parts.json (per
//          drawing: null for no ink, else the ink's parts as [width, height])
//   node tests/js/read_drawings.mjs answer JOB_FOLDER    # probabilities.json: per drawing with ink
//       -> readings.json (per drawing: null for no ink, else {parts, number, label, status})

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { PNG } from "pngjs";

import { padAnswer } from "../../mnist_cnn/web/pad/browser/answer.mjs";
import { digitParts } from "../../mnist_cnn/web/pad/browser/parts.mjs";
import { preprocess } from "../../mnist_cnn/web/pad/browser/preprocess.mjs";

const [step, folder] = process.argv.slice(2);
const read = (name) => JSON.parse(readFileSync(join(folder, name), "utf8"));
const { settings, paths } = read("job.json");

if (step === "prepare") {
  const side = settings.sketch.field;
  const fields = [];
  const parts = paths.map((path) => {
    const { data, width, height } = PNG.sync.read(readFileSync(path));
    const steps = preprocess(data, width, height, settings);
    if (!steps) return null;
    fields.push(steps.field);
    return digitParts(steps.levels, steps.box, settings.number).map((part) => [part.width, part.height]);
  });
  const out = new Float32Array(fields.length * side * side);
  fields.forEach((field, i) => out.set(field, i * side * side));
  writeFileSync(join(folder, "fields.bin"), Buffer.from(out.buffer));
  writeFileSync(join(folder, "parts.json"), JSON.stringify(parts));
} else if (step === "answer") {
  const probabilities = read("probabilities.json")[Symbol.iterator]();
  const readings = read("parts.json").map((parts) => {
    if (parts === null) return null;
    const asParts = parts.map(([width, height]) => ({ width, height }));
    return { parts, ...padAnswer(probabilities.next().value, asParts, settings) };
  });
  writeFileSync(join(folder, "readings.json"), JSON.stringify(readings));
} else {
  throw new Error(`unknown step ${step}: prepare or answer`);
}
