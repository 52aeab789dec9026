// Reading a number: the twin of mnist_cnn/reading/number.py from the split into parts on (read_digit_or_number,
// _read_ink, _read_candidate and its cut search, _join_loose_strokes), then what the page shows of it
// (number_markdown, fields_side_by_side, draw_reading and number_label of mnist_cnn/web/tabs/draw.py). The
// constants and the wording come from the server's reader settings (settings.number, settings.messages).
// `classify(fields)`: the calibrated probabilities of several 28x28 fields, in one batch (reader.mjs).

import { answer } from "./answer.mjs";
import { mayBeNumber } from "./parts.mjs";
import { fieldFromCrop, intensityTable } from "./preprocess.mjs";
import { percent, roundHalfEven } from "./pymath.mjs";

// Predictor.prediction: the answer for one field from its probabilities
export function prediction(field, probs, settings) {
  const read = answer(probs, settings.rule, settings.classes);
  return { digit: read.digit, alternative: read.alternative, confidence: probs[read.best], probs, field };
}

// _Candidate.trimmed: a part cut to its ink
function trimmed(top, left, mask, width, height) {
  let y0 = height;
  let y1 = -1;
  let x0 = width;
  let x1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
    }
  }
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const cut = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) cut.set(mask.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + w), y * w);
  return { top: top + y0, left: left + x0, width: w, height: h, mask: cut };
}

function columnSlice(part, from, to) {
  const width = to - from;
  const mask = new Uint8Array(width * part.height);
  let any = false;
  for (let y = 0; y < part.height; y++) {
    for (let x = 0; x < width; x++) {
      const value = part.mask[y * part.width + from + x];
      mask[y * width + x] = value;
      any = any || value === 1;
    }
  }
  return any ? trimmed(part.top, part.left + from, mask, width, part.height) : null;
}

// _Candidate.splits: left and right parts cut at the thinnest columns of the middle
function splits(part, settings) {
  const inkPerColumn = new Int32Array(part.width);
  for (let y = 0; y < part.height; y++) {
    for (let x = 0; x < part.width; x++) inkPerColumn[x] += part.mask[y * part.width + x];
  }
  const start = roundHalfEven(0.2 * part.width);
  const stop = roundHalfEven(0.8 * part.width);
  const columns = Array.from({ length: Math.max(0, stop - start) }, (_, i) => start + i);
  columns.sort((a, b) => inkPerColumn[a] - inkPerColumn[b]); // stable, as numpy's argsort(kind="stable")
  const apart = Math.max(2, Math.floor(part.width / 10));
  const cuts = [];
  for (const column of columns) {
    if (cuts.every((cut) => Math.abs(column - cut) >= apart)) cuts.push(column);
    if (cuts.length === settings.number.cut_tries) break;
  }
  const parts = [];
  for (const cut of cuts) {
    const left = columnSlice(part, 0, cut);
    const right = columnSlice(part, cut, part.width);
    if (left && right) parts.push([left, right]);
  }
  return parts;
}

// _field (with _crop and _steps): the part's own ink, preprocessed as one drawing; computed once
function partField(levels, table, part, settings) {
  if (part.field === undefined) {
    const crop = new Float32Array(part.width * part.height);
    for (let y = 0; y < part.height; y++) {
      const row = (part.top + y) * levels.width + part.left;
      for (let x = 0; x < part.width; x++) {
        crop[y * part.width + x] = part.mask[y * part.width + x] ? table[levels.ink[row + x]] : 0;
      }
    }
    part.field = fieldFromCrop(crop, part.height, part.width, settings);
  }
  return part.field;
}

// _maybe_two
function maybeTwo(part, reading, settings) {
  return mayBeNumber([part], reading, settings.number);
}

// _read_candidate: one digit, or two (or more) touching digits when a cut reads more surely
async function readCandidate(context, whole, reading) {
  const { levels, table, settings, classify } = context;
  if (!maybeTwo(whole, reading, settings)) return [[whole, reading]];
  let best = null;
  let bestScore = reading.confidence;
  const aspect = (part) => part.width / part.height;
  const shaped = splits(whole, settings).filter(
    ([left, right]) => Math.max(aspect(left), aspect(right)) <= settings.number.digit_wide,
  );
  const tries = shaped
    .map(([left, right]) => [
      left,
      right,
      partField(levels, table, left, settings),
      partField(levels, table, right, settings),
    ])
    .filter((t) => t[2] !== null && t[3] !== null);
  if (tries.length) {
    const probs = await classify(tries.flatMap((t) => [t[2], t[3]]));
    tries.forEach(([left, right, leftField, rightField], i) => {
      const halves = [
        prediction(leftField, probs[2 * i], settings),
        prediction(rightField, probs[2 * i + 1], settings),
      ];
      const score = Math.min(halves[0].confidence, halves[1].confidence);
      if (halves.every((half) => half.digit !== null) && score > bestScore) {
        best = [
          [left, halves[0]],
          [right, halves[1]],
        ];
        bestScore = score;
      }
    });
  }
  if (best === null) return [[whole, reading]];
  const parts = [];
  for (const [part, partReading] of best) parts.push(...(await readCandidate(context, part, partReading)));
  return parts;
}

// _join_loose_strokes: an unsure part close beside its neighbour joins it when together they read surely
async function joinLooseStrokes(context, parts) {
  const { levels, table, settings, classify } = context;
  let i = 0;
  while (i < parts.length - 1) {
    const [[left, leftReading], [right, rightReading]] = [parts[i], parts[i + 1]];
    const height = Math.max(left.height, right.height);
    const close = right.left - (left.left + left.width) < settings.number.join_gap * height;
    if (close && (leftReading.digit === null || rightReading.digit === null)) {
      const top = Math.min(left.top, right.top);
      const bottom = Math.max(left.top + left.height, right.top + right.height);
      const x0 = Math.min(left.left, right.left);
      const x1 = Math.max(left.left + left.width, right.left + right.width);
      const width = x1 - x0;
      const mask = new Uint8Array(width * (bottom - top));
      for (const part of [left, right]) {
        for (let y = 0; y < part.height; y++) {
          for (let x = 0; x < part.width; x++) {
            if (part.mask[y * part.width + x]) mask[(part.top - top + y) * width + part.left - x0 + x] = 1;
          }
        }
      }
      const joined = { top, left: x0, width, height: bottom - top, mask };
      const field = partField(levels, table, joined, settings);
      if (field !== null) {
        const [probs] = await classify([field]);
        const reading = prediction(field, probs, settings);
        const alone = Math.max(leftReading.confidence, rightReading.confidence, settings.number.join_sure);
        if (reading.digit !== null && reading.confidence > alone) {
          parts.splice(i, 2, [joined, reading]);
          continue;
        }
      }
    }
    i += 1;
  }
  return parts;
}

// _read_ink: every digit, left to right: {digits: [{digit, confidence, box: [x0, y0, x1, y1], field}]}
export async function readNumber(levels, candidates, settings, classify) {
  if (!candidates.length || candidates.length > settings.number.max_digits) return { digits: [] };
  const table = intensityTable(levels);
  const context = { levels, table, settings, classify };
  const fields = candidates.map((part) => [part, partField(levels, table, part, settings)]).filter(([, f]) => f);
  const probs = fields.length ? await classify(fields.map(([, f]) => f)) : [];
  let parts = [];
  for (let i = 0; i < fields.length; i++) {
    const [part, field] = fields[i];
    parts.push(...(await readCandidate(context, part, prediction(field, probs[i], settings))));
  }
  parts = await joinLooseStrokes(context, parts);
  return {
    digits: parts.map(([part, reading]) => ({
      digit: reading.digit,
      confidence: reading.confidence,
      box: [part.left, part.top, part.left + part.width, part.top + part.height],
      field: reading.field,
    })),
  };
}

// NumberReading.number: the digits, "?" for each the model is not sure of
export function numberText(reading) {
  return reading.digits.map((d) => (d.digit === null ? "?" : String(d.digit))).join("");
}

// number.number_markdown
export function numberMarkdown(reading) {
  const parts = reading.digits.map((d) =>
    d.digit === null ? "? (not sure)" : `${d.digit} (${percent(d.confidence)}%)`,
  );
  return `Number **${numberText(reading)}**: ${parts.join(", ")}`;
}

// draw.number_label: gr.Label's value, the number as its heading and a row per digit
export function numberLabel(reading) {
  return {
    label: numberText(reading),
    confidences: reading.digits.map((d, i) => ({
      label: `digit ${i + 1}: ${d.digit === null ? "? (not sure)" : d.digit}`,
      confidence: d.confidence,
    })),
  };
}

// number.fields_side_by_side: what the model sees of each digit, with a grey line between them
export function fieldsSideBySide(reading, side, gap = 2) {
  const width = reading.digits.length * (side + gap) - gap;
  const picture = new Float32Array(side * width).fill(0.35);
  reading.digits.forEach((d, i) => {
    for (let y = 0; y < side; y++)
      picture.set(d.field.subarray(y * side, (y + 1) * side), y * width + i * (side + gap));
  });
  return { picture, width, height: side };
}

// number.draw_reading: the drawing on white with each digit's box and reading, green when sure, orange for "?".
// `drawing`: a canvas with the ink (black on transparent). The text's font is the browser's, not Pillow's.
export function drawReading(drawing, reading) {
  const canvas = document.createElement("canvas");
  canvas.width = drawing.width;
  canvas.height = drawing.height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(drawing, 0, 0);
  const size = Math.max(12, Math.floor(canvas.height / 12));
  const line = Math.max(2, Math.floor(size / 8));
  ctx.font = `${size}px sans-serif`;
  ctx.textBaseline = "top";
  for (const d of reading.digits) {
    ctx.fillStyle = d.digit === null ? "rgb(230, 120, 0)" : "rgb(16, 150, 72)";
    const [x0, y0, x1, y1] = d.box;
    // Pillow's rectangle((x0 - 2, y0 - 2, x1 + 1, y1 + 1), width=line): drawn inward from those bounds
    const [left, top, right, bottom] = [x0 - 2, y0 - 2, x1 + 2, y1 + 2];
    ctx.fillRect(left, top, right - left, line);
    ctx.fillRect(left, bottom - line, right - left, line);
    ctx.fillRect(left, top, line, bottom - top);
    ctx.fillRect(right - line, top, line, bottom - top);
    ctx.fillText(d.digit === null ? "?" : String(d.digit), x0, Math.max(0, y0 - size - 4));
  }
  return canvas;
}
