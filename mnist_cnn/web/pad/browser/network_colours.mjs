// The network view's colours: one scale per layer, from 0 to the layer's largest value in the drawing.
// Exactly 0 (a unit the ReLU switched off) is black; above 0 runs from dark purple to pale yellow (a
// magma-like ramp whose first step is visibly not black); below 0, blue. The input is grey, 0 to 1.

const POSITIVE_STOPS = [
  [0.0, [59, 15, 112]],
  [0.25, [140, 41, 129]],
  [0.5, [222, 73, 104]],
  [0.75, [254, 159, 109]],
  [1.0, [252, 253, 191]],
];
const NEGATIVE_STOPS = [
  [0.0, [29, 58, 110]],
  [1.0, [107, 174, 214]],
];
export const ZERO_RGB = [0, 0, 0];
const LEVELS = 256;

function ramp(stops) {
  const table = new Uint8ClampedArray(LEVELS * 3);
  for (let level = 0; level < LEVELS; level++) {
    const t = level / (LEVELS - 1);
    let i = 0;
    while (i < stops.length - 2 && t > stops[i + 1][0]) i++;
    const [t0, c0] = stops[i];
    const [t1, c1] = stops[i + 1];
    const f = (t - t0) / (t1 - t0);
    for (let k = 0; k < 3; k++) table[level * 3 + k] = c0[k] + (c1[k] - c0[k]) * f;
  }
  return table;
}
const POSITIVE = ramp(POSITIVE_STOPS);
const NEGATIVE = ramp(NEGATIVE_STOPS);
const GREY = ramp([
  [0, [0, 0, 0]],
  [1, [255, 255, 255]],
]);

// A CSS gradient of the scale above 0 (or the grey one), for the legends
export function legendGradient(grey = false) {
  const stops = grey ? ["#000", "#fff"] : POSITIVE_STOPS.map(([t, [r, g, b]]) => `rgb(${r} ${g} ${b}) ${100 * t}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

// Writes one value's colour at `offset` of RGBA `pixels`. `scale`: the layer's largest |value|.
function paintValue(pixels, offset, value, scale, grey) {
  let table = POSITIVE;
  let level;
  if (grey) {
    table = GREY;
    level = Math.round(Math.min(1, Math.max(0, value)) * (LEVELS - 1));
  } else if (value === 0) {
    pixels[offset] = ZERO_RGB[0];
    pixels[offset + 1] = ZERO_RGB[1];
    pixels[offset + 2] = ZERO_RGB[2];
    pixels[offset + 3] = 255;
    return;
  } else {
    if (value < 0) table = NEGATIVE;
    level = Math.min(LEVELS - 1, Math.round((Math.abs(value) / scale) * (LEVELS - 1)));
  }
  pixels[offset] = table[level * 3];
  pixels[offset + 1] = table[level * 3 + 1];
  pixels[offset + 2] = table[level * 3 + 2];
  pixels[offset + 3] = 255;
}

// Paints a stage's maps ({channels, height, width} of `values`, channel-major as ONNX gives them) into the
// RGBA `pixels` of a grid `columns` maps wide with a 1-pixel gap (left transparent). Returns each channel's
// largest value.
export function paintMaps(pixels, values, shape, columns, scale, grey = false) {
  const [channels, height, width] = shape;
  const rowStride = columns * (width + 1) - 1;
  const peaks = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const left = (c % columns) * (width + 1);
    const top = Math.floor(c / columns) * (height + 1);
    let peak = -Infinity;
    for (let y = 0; y < height; y++) {
      const source = (c * height + y) * width;
      const row = ((top + y) * rowStride + left) * 4;
      for (let x = 0; x < width; x++) {
        const value = values[source + x];
        if (value > peak) peak = value;
        paintValue(pixels, row + 4 * x, value, scale, grey);
      }
    }
    peaks[c] = peak;
  }
  return peaks;
}

// One map, one pixel per value (CSS enlarges it, crisply)
export function paintMap(pixels, values, height, width, scale, grey = false) {
  for (let i = 0; i < height * width; i++) paintValue(pixels, 4 * i, values[i], scale, grey);
}

// The kernel's weights: red above 0, blue below, white at 0, over the largest |weight| of the layer
export function weightColour(weight, scale) {
  const t = Math.min(1, Math.abs(weight) / scale);
  const [r, g, b] = weight >= 0 ? [214, 39, 40] : [31, 119, 180];
  const mix = (c) => Math.round(255 + (c - 255) * t);
  return `rgb(${mix(r)} ${mix(g)} ${mix(b)})`;
}
