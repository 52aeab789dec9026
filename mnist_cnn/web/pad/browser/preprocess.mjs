// The MNIST preprocessing of mnist_cnn/reading/sketch.py, step by step, for an RGBA drawing (a canvas's
// ImageData): the ink's levels, its box, the crop as intensity, the anti-aliased resize to 20 px and the
// centring by mass in 28x28. Each function names its Python twin, and keeps its arithmetic: where numpy
// computes in float32, so does this (f32). tests/test_reader_parity.py holds the two together on every
// dev drawing (Node); the constants come from the server's reader settings (settings.sketch).

import { f32, roundHalfEven } from "./pymath.mjs";

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
export function inkThreshold(levels) {
  return 255 * (levels.background + levels.floor * (levels.peak - levels.background));
}

export function intensityTable(levels) {
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
export function inkBox(levels) {
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

// --- sketch.steps_from_crop: a crop (float32 intensity, height x width) scaled to 20 px and centred in 28x28;
// null when nothing is left of it
export function fieldFromCrop(crop, height, width, settings) {
  const scaled = scaleToBox(crop, height, width, settings.sketch);
  return scaled ? centerInField(scaled, settings.sketch) : null;
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
