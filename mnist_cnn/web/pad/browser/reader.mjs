// The pad's in-browser reader: the drawing preprocessed as the server does it (preprocess.mjs), read by
// the bundle's model.onnx through onnxruntime-web, answered and worded as the server words it
// (answer.mjs, parts.mjs). Its settings (file URLs, thresholds, constants, wording, class layout) come from
// the server: mnist_cnn/web/pad/reader.py. tests/test_reader_parity.py checks these modules against the
// Python in Node, on every dev drawing; tests/test_browser.py loads them in Chromium.

import { calibrated, padAnswer } from "./answer.mjs";
import { digitParts } from "./parts.mjs";
import { preprocess } from "./preprocess.mjs";
import { f32 } from "./pymath.mjs";

export { answer } from "./answer.mjs";
export { preprocess } from "./preprocess.mjs";

// views.to_uint8, as a PNG data URL the page's gr.Image shows
function fieldImage(field, side) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = side;
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(side, side);
  for (let i = 0; i < field.length; i++) {
    const level = Math.floor(f32(Math.min(1, Math.max(0, field[i])) * 255));
    pixels.data.set([level, level, level, 255], 4 * i);
  }
  ctx.putImageData(pixels, 0, 0);
  return { url: canvas.toDataURL("image/png"), orig_name: "image.png" };
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
    const side = this.settings.sketch.field;
    const input = new this.ort.Tensor("float32", field, [1, 1, side, side]);
    const { logits } = await this.session.run({ image: input });
    return calibrated(logits.data, this.settings.temperature);
  }

  // What the pad shows for an RGBA drawing: {label, image, status} as the server's answer has them; for
  // several digits, only a status saying the number is read on pen-up.
  async read(rgba, width, height) {
    const { settings } = this;
    const steps = preprocess(rgba, width, height, settings);
    if (!steps) return { label: {}, image: null, status: `**${settings.messages.empty}**` };
    const probs = await this.probabilities(steps.field);
    const shown = padAnswer(probs, digitParts(steps.levels, steps.box, settings.number), settings);
    if (shown.number) return { label: {}, image: null, status: shown.status };
    return { label: shown.label, image: fieldImage(steps.field, settings.sketch.field), status: shown.status };
  }
}
