// The pad's in-browser reader: the MNIST preprocessing of mnist_cnn/sketch.py, step by step, then the
// bundle's model.onnx through onnxruntime-web, with its calibration and answer rule (mnist_cnn/predict.py).
//
// Each function names the Python it mirrors, and keeps its arithmetic: where numpy computes in float32,
// so does this (Math.fround), and Python's round() rounds halves to even. benchmarks/reader_parity.py and
// tests/test_browser.py (through tests/browser_reader.py) hold the two together on real drawings. The
// settings (thresholds, constants, wording) come from the server: mnist_cnn/pad/reader.py.

const f32 = Math.fround;

// Python's round(): to the nearest integer, halves to the even one.
export function roundHalfEven(x) {
  const down = Math.floor(x);
  const rest = x - down;
  if (rest > 0.5) return down + 1;
  if (rest < 0.5) return down;
  return down % 2 === 0 ? down : down + 1;
}

// Python's f"{100 * p:.0f}".
const percent = (p) => String(roundHalfEven(100 * p));

// --- sketch.to_paper_grayscale: RGBA composited onto white paper, as Pillow computes it ---------------
export function paperGray(rgba, width, height) {
  const gray = new Uint8Array(width * height);
  for (let i = 0, p = 0; i < gray.length; i++, p += 4) {
    if (rgba[p + 3] === 0) {
      gray[i] = 255; // transparent: the paper (most of a drawing)
      continue;
    }
    const luminance = (rgba[p] * 19595 + rgba[p + 1] * 38470 + rgba[p + 2] * 7471 + 0x8000) >> 16; // "L"
    gray[i] = 255 - ((((255 - luminance) * rgba[p + 3]) / 255) | 0); // ImageChops.multiply truncates
  }
  return gray;
}

// np.median of values given as a histogram of uint8 levels, each level mapped by `value` (which must be
// monotonic over the levels in `order`); `mean` averages the two middle values as numpy does.
function histogramMedian(counts, total, order, value, mean) {
  const lowRank = (total - 1) >> 1;
  const highRank = total >> 1;
  let seen = 0;
  let low = null;
  for (const level of order) {
    const count = counts[level];
    if (!count) continue;
    if (low === null && seen + count > lowRank) low = value(level);
    if (seen + count > highRank) return total % 2 ? low : mean(low, value(level));
    seen += count;
  }
  return low;
}

const meanF64 = (a, b) => (a + b) / 2;
const meanF32 = (a, b) => f32(f32(a + b) / 2);
const LEVELS = Array.from({ length: 256 }, (_, level) => level);

// --- sketch.ink_levels -----------------------------------------------------------------------------------
// `gray` is turned into the ink image in place (inverted when the paper is light). The levels also hold
// `span`, the box of every pixel with any ink at all (the ink's box lies inside it): later steps look
// only there. Written as plain loops: this runs on every animation frame while the pen moves.
export function inkLevels(gray, width, height, settings) {
  const border = new Uint32Array(256);
  const last = (height - 1) * width;
  for (let x = 0; x < width; x++) {
    border[gray[x]]++;
    border[gray[last + x]]++;
  }
  for (let y = 0; y < height; y++) {
    border[gray[y * width]]++;
    border[gray[y * width + width - 1]]++;
  }
  const borderTotal = 2 * (width + height);
  const inverted = histogramMedian(border, borderTotal, LEVELS, (v) => v, meanF64) >= 255 / 2;
  const ink = gray;
  if (inverted) for (let i = 0; i < ink.length; i++) ink[i] = 255 - ink[i];

  const step = Math.max(1, roundHalfEven(Math.sqrt(ink.length / 20_000)));
  const sample = new Uint32Array(256);
  let sampleTotal = 0;
  let peakLevel = 0;
  const span = { top: height, bottom: -1, left: width, right: -1 };
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1;
    let lastInk = -1;
    for (let x = 0; x < width; x++) {
      const level = ink[row + x];
      if (level) {
        if (level > peakLevel) peakLevel = level;
        if (first < 0) first = x;
        lastInk = x;
      }
    }
    if (first >= 0) {
      if (span.top > y) span.top = y;
      span.bottom = y;
      if (span.left > first) span.left = first;
      if (span.right < lastInk) span.right = lastInk;
    }
    if (y % step) continue;
    for (let x = 0; x < width; x += step) sample[ink[row + x]]++;
    sampleTotal += Math.ceil(width / step);
  }
  const edge = new Uint32Array(256); // the border, as ink
  for (let level = 0; level < 256; level++) edge[inverted ? 255 - level : level] = border[level];
  const asFloat = (level) => f32(level / 255);
  let counts = sample;
  let total = sampleTotal;
  let background = histogramMedian(sample, sampleTotal, LEVELS, asFloat, meanF32);
  const peak = peakLevel / 255;
  const paper = histogramMedian(edge, borderTotal, LEVELS, asFloat, meanF32);
  if (background - paper > (peak - paper) / 2) {
    counts = edge; // more ink than paper inside a paper border: the border is the paper
    total = borderTotal;
    background = paper;
  }
  if (peak - background < settings.min_contrast) return null;
  // np.median(np.abs(sample - background)), in float32: order the levels by their distance
  const distance = (level) => Math.abs(f32(asFloat(level) - background));
  const byDistance = LEVELS.filter((level) => counts[level]).sort((a, b) => distance(a) - distance(b));
  const spread = histogramMedian(counts, total, byDistance, distance, meanF32);
  const noise = (1.4826 * spread) / (peak - background);
  const floor = Math.min(0.5, Math.max(settings.noise_floor, 5 * noise));
  return { ink, width, height, background, peak, floor, span };
}

// InkLevels.is_ink's threshold, and InkLevels.intensity as a table of the 256 levels (float32 steps).
function inkThreshold(levels) {
  return 255 * (levels.background + levels.floor * (levels.peak - levels.background));
}

function intensityTable(levels) {
  const background = f32(levels.background);
  const span = f32(levels.peak - levels.background);
  const floor = f32(levels.floor);
  const rest = f32(1 - levels.floor);
  const table = new Float32Array(256);
  for (let level = 0; level < 256; level++) {
    const value = f32(f32(f32(f32(level / 255) - background) / span) - floor);
    table[level] = Math.min(1, Math.max(0, f32(value / rest)));
  }
  return table;
}

// --- sketch.ink_crop: the ink's box, as intensity ----------------------------------------------------------
function inkBox(levels) {
  const { ink, width, span } = levels;
  const threshold = inkThreshold(levels);
  let top = span.bottom + 1;
  let bottom = -1;
  let left = span.right + 1;
  let right = -1;
  for (let y = span.top; y <= span.bottom; y++) {
    const row = y * width;
    for (let x = span.left; x <= span.right; x++) {
      if (ink[row + x] > threshold) {
        if (y < top) top = y;
        bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return { top, left, height: bottom - top + 1, width: right - left + 1 };
}

function cropIntensity(levels, box, table) {
  const crop = new Float32Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    const row = (box.top + y) * levels.width + box.left;
    for (let x = 0; x < box.width; x++) crop[y * box.width + x] = table[levels.ink[row + x]];
  }
  return crop;
}

// --- torchvision's resize(antialias=True) on float32: torch's separable anti-aliased bilinear -------
// Weights as aten's _compute_weights_aa computes them: a triangle filter widened by the scale when
// shrinking, each output's weights normalised to sum to 1.
function resizeWeights(inputSize, outputSize) {
  const scale = f32(inputSize / outputSize);
  const support = scale >= 1 ? f32(1 * scale) : 1;
  const invscale = scale >= 1 ? f32(1 / scale) : 1;
  const starts = new Int32Array(outputSize);
  const weights = [];
  for (let i = 0; i < outputSize; i++) {
    const center = f32(scale * f32(i + 0.5));
    // (float32 where aten's scalar_t is float, double where its C++ promotes to double)
    const start = Math.max(Math.trunc(f32(center - support) + 0.5), 0);
    const stop = Math.min(Math.trunc(f32(center + support) + 0.5), inputSize);
    const row = new Float32Array(Math.max(0, stop - start));
    let total = 0;
    for (let j = 0; j < row.length; j++) {
      const x = Math.abs(f32((f32(j + start - center) + 0.5) * invscale));
      row[j] = x < 1 ? f32(1 - x) : 0;
      total = f32(total + row[j]);
    }
    if (total !== 0) for (let j = 0; j < row.length; j++) row[j] = f32(row[j] / total);
    starts[i] = start;
    weights.push(row);
  }
  return { starts, weights };
}

export function resizeAntialiased(image, height, width, outHeight, outWidth) {
  const across = resizeWeights(width, outWidth);
  const down = resizeWeights(height, outHeight);
  const wide = new Float32Array(height * outWidth); // rows first, then columns
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      const w = across.weights[x];
      const start = y * width + across.starts[x];
      let sum = 0;
      for (let j = 0; j < w.length; j++) sum += w[j] * image[start + j];
      wide[y * outWidth + x] = sum;
    }
  }
  const out = new Float32Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    const w = down.weights[y];
    const start = down.starts[y];
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (let j = 0; j < w.length; j++) sum += w[j] * wide[(start + j) * outWidth + x];
      out[y * outWidth + x] = sum;
    }
  }
  return out;
}

// --- sketch.scale_to_box ---------------------------------------------------------------------------------------
function scaleToBox(crop, height, width, settings) {
  const scale = settings.box / Math.max(height, width);
  const outHeight = Math.max(1, roundHalfEven(height * scale));
  const outWidth = Math.max(1, roundHalfEven(width * scale));
  const digit = resizeAntialiased(crop, height, width, outHeight, outWidth);
  let peak = 0;
  for (let i = 0; i < digit.length; i++) {
    digit[i] = Math.min(1, Math.max(0, digit[i]));
    if (digit[i] > peak) peak = digit[i];
  }
  if (peak <= 0) return null;
  for (let i = 0; i < digit.length; i++) digit[i] = f32(digit[i] / peak);
  return { digit, height: outHeight, width: outWidth };
}

// --- sketch.center_in_field --------------------------------------------------------------------------------
function centerInField({ digit, height, width }, settings) {
  const side = settings.field;
  let mass = 0;
  let sumY = 0;
  let sumX = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = digit[y * width + x];
      mass += v;
      sumY += y * v;
      sumX += x * v;
    }
  }
  mass = f32(mass); // numpy sums the float32 digit in float32
  const top = Math.min(Math.max(roundHalfEven(settings.center - sumY / mass), 0), side - height);
  const left = Math.min(Math.max(roundHalfEven(settings.center - sumX / mass), 0), side - width);
  const field = new Float32Array(side * side);
  for (let y = 0; y < height; y++) field.set(digit.subarray(y * width, (y + 1) * width), (top + y) * side + left);
  return field;
}

// --- number.digit_candidates: how many digits the ink may hold ----------------------------------------
// The ink's 8-connected pieces, grouped as the server groups them into digits (pieces overlapping
// horizontally by half the narrower one are one digit; a short piece joins the digit it overlaps most).
export function digitParts(levels, box, settings) {
  const { ink, width } = levels;
  const threshold = inkThreshold(levels);
  const w = box.width;
  const h = box.height;
  const labels = new Int32Array(w * h); // -1: ink not yet labelled, 0: paper, n: piece n
  for (let y = 0; y < h; y++) {
    const row = (box.top + y) * width + box.left;
    for (let x = 0; x < w; x++) if (ink[row + x] > threshold) labels[y * w + x] = -1;
  }
  const stack = new Int32Array(w * h);
  const pieces = [];
  for (let start = 0; start < w * h; start++) {
    if (labels[start] !== -1) continue;
    const piece = { size: 0, x0: w, x1: 0, y0: h, y1: 0 };
    pieces.push(piece);
    const label = pieces.length;
    labels[start] = label;
    let depth = 0;
    stack[depth++] = start;
    while (depth) {
      const at = stack[--depth];
      const y = (at / w) | 0;
      const x = at - y * w;
      piece.size++;
      if (x < piece.x0) piece.x0 = x;
      if (x >= piece.x1) piece.x1 = x + 1;
      if (y < piece.y0) piece.y0 = y;
      if (y >= piece.y1) piece.y1 = y + 1;
      const y0 = y > 0 ? y - 1 : 0;
      const y1 = y < h - 1 ? y + 1 : y;
      const x0 = x > 0 ? x - 1 : 0;
      const x1 = x < w - 1 ? x + 1 : x;
      for (let ny = y0; ny <= y1; ny++) {
        for (let nx = x0; nx <= x1; nx++) {
          const next = ny * w + nx;
          if (labels[next] === -1) {
            labels[next] = label;
            stack[depth++] = next;
          }
        }
      }
    }
  }
  const inkTotal = pieces.reduce((sum, piece) => sum + piece.size, 0);
  const kept = pieces.filter((piece) => piece.size >= settings.speck * inkTotal);
  if (!kept.length) return [];
  const tallest = Math.max(...kept.map((piece) => piece.y1 - piece.y0));
  const isShort = (piece) => piece.y1 - piece.y0 < settings.fragment * tallest;
  const overlap = (a, b) => Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const groups = [];
  const join = (group, piece) => {
    group.x0 = Math.min(group.x0, piece.x0);
    group.x1 = Math.max(group.x1, piece.x1);
    group.y0 = Math.min(group.y0, piece.y0);
    group.y1 = Math.max(group.y1, piece.y1);
  };
  for (const piece of kept.filter((p) => !isShort(p)).sort((a, b) => a.x0 - b.x0)) {
    const last = groups[groups.length - 1];
    if (last && overlap(piece, last) >= settings.merge_overlap * Math.min(piece.x1 - piece.x0, last.x1 - last.x0)) {
      join(last, piece);
    } else {
      groups.push({ ...piece });
    }
  }
  for (const piece of kept.filter(isShort)) {
    if (!groups.length) groups.push({ ...piece });
    else join(groups.reduce((best, group) => (overlap(piece, group) > overlap(piece, best) ? group : best)), piece);
  }
  return groups.map((group) => ({ width: group.x1 - group.x0, height: group.y1 - group.y0 }));
}

// --- sketch.preprocess_steps, for an RGBA image (a canvas's ImageData) ---------------------------------
export function preprocess(rgba, width, height, settings) {
  const levels = inkLevels(paperGray(rgba, width, height), width, height, settings.sketch);
  if (!levels) return null;
  const box = inkBox(levels);
  const scaled = scaleToBox(cropIntensity(levels, box, intensityTable(levels)), box.height, box.width, settings.sketch);
  if (!scaled) return null;
  return { levels, box, field: centerInField(scaled, settings.sketch) };
}

// --- predict.AnswerRule.answer -----------------------------------------------------------------------------
export function answer(probs, rule) {
  const order = Array.from({ length: 10 }, (_, digit) => digit).sort((a, b) => probs[b] - probs[a] || a - b);
  const [best, second] = order;
  let notADigit = 0;
  for (let i = 10; i < probs.length; i++) notADigit += probs[i];
  if (
    probs[best] < rule.abstain_below ||
    notADigit > rule.not_a_digit_above ||
    probs[best] + probs[second] < rule.digits_below
  ) {
    return { digit: null, alternative: null, best, notADigit };
  }
  return { digit: best, alternative: probs[best] < rule.alternative_below ? second : null, best, notADigit };
}

// Prediction.status_markdown
export function statusMarkdown(probs, read, messages) {
  if (read.digit !== null && read.alternative !== null) {
    const shares = `${percent(probs[read.digit])}% / ${percent(probs[read.alternative])}%`;
    return `**${read.digit}**, or maybe ${read.alternative} (${shares})`;
  }
  if (read.digit !== null) return `**${read.digit}** (${percent(probs[read.digit])}% sure)`;
  return `**${messages.unsure}** (best guess ${read.best}, ${percent(probs[read.best])}%)`;
}

// gr.Label's value, as Label.postprocess makes it from Prediction.label_confidences (top 3).
export function labelValue(probs, notADigit, messages, top = 3) {
  const confidences = Array.from({ length: 10 }, (_, digit) => ({ label: String(digit), confidence: probs[digit] }));
  if (notADigit > 0) confidences.push({ label: messages.not_a_digit, confidence: notADigit });
  confidences.sort((a, b) => b.confidence - a.confidence);
  const shown = confidences.slice(0, top);
  return { label: shown[0].label, confidences: shown };
}

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
    const scaled = Array.from(logits.data, (z) => z / this.settings.temperature);
    const top = Math.max(...scaled);
    const exps = scaled.map((z) => Math.exp(z - top));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / total);
  }

  // What the pad shows for an RGBA drawing: {label, image, status} as the server's answer has them; for
  // several digits, only a status saying the number is read on pen-up.
  async read(rgba, width, height) {
    const { settings } = this;
    const steps = preprocess(rgba, width, height, settings);
    if (!steps) return { label: {}, image: null, status: `**${settings.messages.empty}**` };
    const probs = await this.probabilities(steps.field);
    const read = answer(probs, settings.rule);
    const parts = digitParts(steps.levels, steps.box, settings.number);
    const [part] = parts;
    // number.read_digit_or_number: more than one part, or one that may be two touching digits
    const maybeTwo =
      parts.length === 1 &&
      (part.width > settings.number.wide * part.height ||
        (read.digit === null && part.width > settings.number.two_wide * part.height));
    if (parts.length > 1 || maybeTwo) {
      return { label: {}, image: null, status: `**${settings.messages.number_pending}**` };
    }
    return {
      label: labelValue(probs, read.notADigit, settings.messages),
      image: fieldImage(steps.field, settings.sketch.field),
      status: statusMarkdown(probs, read, settings.messages),
    };
  }
}
