// The network view's numbers: the grid each stage's maps are laid out in, each layer's colour scale, and
// the stages as the server sends them.

// How many maps a row holds: about 1.6 times as many columns as rows, so a stage is wider than high.
export function gridOf(channels) {
  const rows = Math.max(1, Math.round(Math.sqrt(channels / 1.6)));
  return { rows, columns: Math.ceil(channels / rows) };
}

// A layer's colour scale: its largest |value| in this drawing (1 when it is all zeros).
export function layerScale(values) {
  let scale = 0;
  for (let i = 0; i < values.length; i++) {
    const size = Math.abs(values[i]);
    if (size > scale) scale = size;
  }
  return scale > 0 ? scale : 1;
}

// Twin of layers.encode_stages (mnist_cnn/reading/layers.py): each stage's bytes (base64, 0..255 over
// its largest value) back to Float32Arrays, {name: values}, with their shapes.
export function decodeStages(encoded) {
  const stages = {};
  const shapes = {};
  for (const [name, { shape, scale, data }] of Object.entries(encoded)) {
    const bytes = Uint8Array.from(atob(data), (char) => char.charCodeAt(0));
    const values = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) values[i] = (bytes[i] / 255) * scale;
    stages[name] = values;
    shapes[name] = shape;
  }
  return { stages, shapes };
}

// A number as the view writes it: three significant digits
export function formatValue(value) {
  if (value === 0) return "0";
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}
