// "Why this digit", drawn: the twin of mnist_cnn/reading/explain.py's overlay (and its wording, why), for the
// attributions that explain.onnx computes in a worker (explainer.mjs). The colours, the blur, the scale and
// the wording come from the server's reader settings (settings.explain).

import { roundHalfEven } from "./pymath.mjs";

// scipy.ndimage.gaussian_filter(image, sigma, mode="constant") on a side x side float32 image: a separable
// correlation with the normalised Gaussian truncated at 4 sigma, rows (axis 0) first, float32 in between.
export function gaussianFilter(image, side, sigma) {
  const radius = Math.trunc(4 * sigma + 0.5);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-0.5 * ((i - radius) / sigma) ** 2));
  const total = kernel.reduce((a, b) => a + b, 0);
  const weights = kernel.map((k) => k / total);
  const pass = (source, alongRows) => {
    const out = new Float32Array(side * side);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) {
          const yy = alongRows ? y + k : y;
          const xx = alongRows ? x : x + k;
          if (yy >= 0 && yy < side && xx >= 0 && xx < side) sum += weights[k + radius] * source[yy * side + xx];
        }
        out[y * side + x] = sum;
      }
    }
    return out;
  };
  return pass(pass(image, true), false);
}

// np.percentile(values, q) with numpy's default linear interpolation
export function percentile(values, q) {
  const sorted = Float64Array.from(values).sort();
  const position = (q / 100) * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  const t = position - low;
  const [a, b] = [sorted[low], sorted[high]];
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t; // numpy's _lerp
}

// explain.overlay(field28, attributions, transparent=True): RGBA bytes (side * scale squared), the paper
// see-through. `style`: settings.explain.
export function overlay(field, attributions, style, side = 28) {
  const blurred = gaussianFilter(attributions, side, style.blur_sigma);
  const sizes = Array.from(blurred, Math.abs).filter((size) => size > 0);
  const strength = sizes.length ? percentile(sizes, style.strength_percentile) : 0;
  const { scale } = style;
  const picture = new Uint8ClampedArray(side * scale * side * scale * 4);
  const level = (value) => roundHalfEven(Math.min(1, Math.max(0, value)) * 255);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = y * side + x;
      const relative = strength > 0 ? Math.min(1, Math.max(-1, blurred[i] / strength)) : 0;
      const evidence = relative > 0 ? style.for_rgb : style.against_rgb;
      const evidenceAlpha = Math.abs(relative) ** 1.5;
      const inkAlpha = style.ink_opacity * Math.min(1, Math.max(0, field[i]));
      const alpha = evidenceAlpha + (1 - evidenceAlpha) * inkAlpha;
      const rgba = [0, 1, 2].map(
        (c) => (evidenceAlpha * evidence[c] + (1 - evidenceAlpha) * inkAlpha * style.ink_grey) / Math.max(alpha, 1e-12),
      );
      rgba.push(alpha);
      const pixel = rgba.map(level);
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) picture.set(pixel, 4 * ((y * scale + dy) * side * scale + x * scale + dx));
      }
    }
  }
  return picture;
}

// explain.why's line: why the model read `digit`, or why not (`readAs`: the model's best guess)
export function whyText(digit, readAs, messages) {
  const template = digit === readAs ? messages.why : messages.why_not;
  return template.replaceAll("{digit}", String(digit)).replaceAll("{read_as}", String(readAs));
}
