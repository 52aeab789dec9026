// How many digits the ink may hold: the split of mnist_cnn/reading/number.py (digit_candidates) and its
// test for a part that may be two touching digits (_maybe_two). The constants come from the server's
// reader settings (settings.number).

import { inkThreshold } from "./preprocess.mjs";

// --- number.digit_candidates: the ink split into parts that are each one digit (or touching digits) ------
// The ink's 8-connected pieces, grouped as the server groups them into digits (pieces overlapping
// horizontally by half the narrower one are one digit; a short piece joins the digit it overlaps most).
// Each part: {top, left, width, height} in the drawing's pixels and its `mask` (1 for its ink, row by row).
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
    const label = pieces.length + 1;
    const piece = { size: 0, x0: w, x1: 0, y0: h, y1: 0, members: [label] };
    pieces.push(piece);
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
    group.members.push(...piece.members);
  };
  for (const piece of kept.filter((p) => !isShort(p)).sort((a, b) => a.x0 - b.x0)) {
    const last = groups[groups.length - 1];
    if (last && overlap(piece, last) >= settings.merge_overlap * Math.min(piece.x1 - piece.x0, last.x1 - last.x0)) {
      join(last, piece);
    } else {
      groups.push({ ...piece, members: [...piece.members] });
    }
  }
  for (const piece of kept.filter(isShort)) {
    if (!groups.length) groups.push({ ...piece, members: [...piece.members] });
    else
      join(
        groups.reduce((best, group) => (overlap(piece, group) > overlap(piece, best) ? group : best)),
        piece,
      );
  }
  return groups.map((group) => {
    const width = group.x1 - group.x0;
    const height = group.y1 - group.y0;
    const mask = new Uint8Array(width * height);
    const inGroup = new Set(group.members);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++)
        mask[y * width + x] = inGroup.has(labels[(group.y0 + y) * w + group.x0 + x]) ? 1 : 0;
    }
    return { top: box.top + group.y0, left: box.left + group.x0, width, height, mask };
  });
}

// number._maybe_two, as number.read_digit_or_number asks it of the whole drawing: whether the server would
// read this ink as a number (several parts, or one part that may be two touching digits). `read`: the
// answer for the whole drawing (answer.mjs).
export function mayBeNumber(parts, read, settings) {
  if (parts.length !== 1) return parts.length > 1;
  const [part] = parts;
  const wide = part.width > settings.wide * part.height;
  return wide || (read.digit === null && part.width > settings.two_wide * part.height);
}
