// The pad's in-browser reader: the drawing preprocessed as the server does it (preprocess.mjs), read by
// the bundle's model.onnx through onnxruntime-web, answered and worded as the server words it
// (answer.mjs, parts.mjs). Its settings (file URLs, thresholds, constants, wording, class layout) come from
// the server: mnist_cnn/web/pad/reader.py. tests/test_reader_parity.py checks these modules against the
// Python in Node, on every dev drawing; tests/test_browser.py loads them in Chromium.

import { answer, calibrated, padAnswer } from "./answer.mjs";
import { drawReading, fieldsSideBySide, numberLabel, numberMarkdown, readNumber } from "./number.mjs";
import { digitParts } from "./parts.mjs";
import { preprocess } from "./preprocess.mjs";
import { f32 } from "./pymath.mjs";

export { answer } from "./answer.mjs";
export { preprocess } from "./preprocess.mjs";
export { readNumber } from "./number.mjs";
export { digitParts } from "./parts.mjs";

// An image as gr.Image takes it inside an answer: a PNG data URL (common.data_image)
function dataImage(canvas) {
  return { url: canvas.toDataURL("image/png"), orig_name: "image.png" };
}

// RGBA bytes as a canvas
export function pictureCanvas(rgba, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  return canvas;
}

// views.to_uint8, as a PNG data URL the page's gr.Image shows
function fieldImage(field, width, height = width) {
  const pixels = new Uint8ClampedArray(4 * width * height);
  for (let i = 0; i < field.length; i++) {
    const level = Math.floor(f32(Math.min(1, Math.max(0, field[i])) * 255));
    pixels.set([level, level, level, 255], 4 * i);
  }
  return dataImage(pictureCanvas(pixels, width, height));
}

export class Reader {
  constructor(ort, session, settings) {
    this.ort = ort;
    this.session = session;
    this.settings = settings;
  }

  // Load onnxruntime-web and the model. `base`: the URL the settings' paths are relative to.
  static async load(settings, base) {
    const ort = await import(new URL(settings.runtime, base).href);
    ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which would break embeds
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = { wasm: new URL(settings.wasm, base).href };
    const session = await ort.InferenceSession.create(new URL(settings.model, base).href, {
      executionProviders: ["wasm"],
    });
    const reader = new Reader(ort, session, settings);
    await reader.probabilities(new Float32Array(settings.sketch.field ** 2)); // the first run compiles
    return reader;
  }

  // Predictor.probabilities: calibrated probabilities of every output
  async probabilities(field) {
    const [probs] = await this.probabilitiesBatch([field]);
    return probs;
  }

  // Predictor.probabilities_batch: several fields in one run
  async probabilitiesBatch(fields) {
    return (await this.run(fields, false)).probabilities;
  }

  // One run of model.onnx: every field's calibrated probabilities and, with `withStages` (the network view
  // is visible), the first field's stages, {input, conv1, ..., pool3} as Float32Arrays (layers.stages_of).
  // The stages are asked for only then: fetching them costs the page a copy of each.
  async run(fields, withStages) {
    const side = this.settings.sketch.field;
    const batch = new Float32Array(fields.length * side * side);
    fields.forEach((field, i) => batch.set(field, i * side * side));
    const input = new this.ort.Tensor("float32", batch, [fields.length, 1, side, side]);
    const names = withStages ? this.settings.stages : [];
    const results = await this.session.run({ image: input }, ["logits", ...names]);
    const { logits } = results;
    const outputs = logits.dims[1];
    const probabilities = fields.map((_, i) =>
      calibrated(logits.data.subarray(i * outputs, (i + 1) * outputs), this.settings.temperature),
    );
    if (names.length === 0) return { probabilities, stages: null };
    const stages = { input: fields[0] };
    for (const name of names) stages[name] = results[name].data.subarray(0, results[name].data.length / fields.length);
    return { probabilities, stages };
  }

  // What the pad shows for an RGBA drawing: {label, image, status} as the server's answer has them; for
  // several digits, only a status saying the number is read on pen-up. With `withStages`, also `network`:
  // {stages, probabilities} of the same run, for the network view (null for an empty pad).
  async read(rgba, width, height, withStages = false) {
    const { settings } = this;
    const steps = preprocess(rgba, width, height, settings);
    if (!steps) return { label: {}, image: null, status: `**${settings.messages.empty}**`, network: null };
    const { probabilities, stages } = await this.run([steps.field], withStages);
    const [probs] = probabilities;
    const network = stages && { stages, probabilities: probs };
    const shown = padAnswer(probs, digitParts(steps.levels, steps.box, settings.number), settings);
    if (shown.number) return { label: {}, image: null, status: shown.status, network };
    const image = fieldImage(steps.field, settings.sketch.field);
    return { label: shown.label, image, status: shown.status, network };
  }

  // The final answer for an RGBA drawing, as DrawHandlers.read_drawing gives it (number.read_digit_or_number):
  // {label, image, status, boxes} for the page, `number` (the digits read, or null), for one digit its
  // `digit` and `alternative` (AnswerRule.answer), and `explain` (the field and the best guess that "why"
  // explains; null for a number or an empty pad). `drawing`: the canvas with
  // the ink, for the digits' boxes. `withStages`: as for read.
  async readFinal(rgba, width, height, drawing, withStages = false) {
    const { settings } = this;
    const steps = preprocess(rgba, width, height, settings);
    if (!steps) {
      return {
        label: {},
        image: null,
        status: `**${settings.messages.empty}**`,
        boxes: null,
        number: null,
        explain: null,
        network: null,
      };
    }
    const { probabilities, stages } = await this.run([steps.field], withStages);
    const [probs] = probabilities;
    const network = stages && { stages, probabilities: probs };
    const parts = digitParts(steps.levels, steps.box, settings.number);
    const shown = padAnswer(probs, parts, settings);
    if (shown.number) {
      const reading = await readNumber(steps.levels, parts, settings, (fields) => this.probabilitiesBatch(fields));
      if (reading.digits.length >= 2) {
        const side = settings.sketch.field;
        const { picture, width: wide } = fieldsSideBySide(reading, side);
        return {
          label: numberLabel(reading),
          image: fieldImage(picture, wide, side),
          status: numberMarkdown(reading),
          boxes: dataImage(drawReading(drawing, reading)),
          number: reading,
          explain: null,
          network,
        };
      }
    }
    const single = padAnswer(probs, [], settings); // one digit: read as the whole drawing
    const { digit, alternative, best } = answer(probs, settings.rule, settings.classes);
    return {
      digit,
      alternative,
      label: single.label,
      image: fieldImage(steps.field, settings.sketch.field),
      status: single.status,
      boxes: null,
      number: null,
      explain: { field: steps.field, best },
      network,
    };
  }
}
