// Decodes stages as the server sends them (mnist_cnn/reading/layers.py, encode_stages) with the network
// view's decodeStages (mnist_cnn/web/pad/browser/network_data.mjs), for tests/test_network_view.py:
//
//   node tests/js/decode_stages.mjs ENCODED.json   # {name: {shape, scale, data}}
//       -> stdout: {name: {shape, values}}

import { readFileSync } from "node:fs";

import { decodeStages } from "../../mnist_cnn/web/pad/browser/network_data.mjs";

const encoded = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { stages, shapes } = decodeStages(encoded);
const decoded = {};
for (const name of Object.keys(stages)) decoded[name] = { shape: shapes[name], values: Array.from(stages[name]) };
process.stdout.write(JSON.stringify(decoded));
