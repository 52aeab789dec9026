// explain.mjs's overlay, in Node, for tests/test_explain_graph.py: reads JSON from stdin
// ({style, cases: [{field, attributions}]}, each 28x28 flattened) and writes each overlay's RGBA bytes at every
// 10th pixel (the picture is 28x28 squares), with its line for "why" and "why not".

import { overlay, whyText } from "../../mnist_cnn/web/pad/browser/explain.mjs";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { style, messages, cases } = JSON.parse(input);
const side = 28;
const out = cases.map(({ field, attributions }) => {
  const picture = overlay(Float32Array.from(field), Float32Array.from(attributions), style, side);
  const small = [];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const at = 4 * (y * style.scale * side * style.scale + x * style.scale);
      small.push(...picture.slice(at, at + 4));
    }
  }
  return small;
});
process.stdout.write(JSON.stringify({ overlays: out, why: whyText(4, 4, messages), whyNot: whyText(9, 4, messages) }));
