// The network view (#network-view): every stage of the CNN for the drawing on the pad, live. Built from
// the settings (mnist_cnn/web/pad/reader.py, PadReader.network_settings): the 28x28 input, each stage's
// maps as one canvas (a grid, one map per channel, at its real size), and the outputs as bars. Each stage
// carries data-layer and data-shape. Over each canvas lies one button per map: a click, a tap, or Enter
// on the focused map opens it (map_detail.mjs); the arrow keys move between the maps of a stage.

import { legendGradient, paintMaps } from "./network_colours.mjs";
import { decodeStages, formatValue, gridOf, layerScale } from "./network_data.mjs";
import { MapDetail } from "./map_detail.mjs";

const INPUT = "input";
const LOGITS = "logits";

function make(tag, attributes = {}, parent = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  if (parent) parent.append(node);
  return node;
}

function describeStage(name, shape) {
  const [channels, height, width] = shape;
  if (name === INPUT) return `input, ${height}×${width}`;
  const what = name.startsWith("pool") ? "max-pool" : "convolution + ReLU";
  return `${name}: ${what}, ${channels} maps of ${height}×${width}`;
}

export class NetworkView {
  // `holder`: #network-view; `stagesRoot` and `detailRoot`: where the stages and the opened map go
  constructor(holder, stagesRoot, detailRoot, settings, base) {
    this.holder = holder;
    this.settings = settings;
    this.updates = 0;
    this.stages = [];
    this.latest = null;
    this.detail = new MapDetail(detailRoot, settings, base, () => this.focusOpened());
    for (const [name, shape] of Object.entries(settings.shapes)) {
      if (name === LOGITS) this.outputs = this.buildOutputs(stagesRoot, shape[0]);
      else this.stages.push(this.buildStage(stagesRoot, name, shape));
    }
    holder.dataset.updates = "0";
  }

  buildStage(root, name, shape) {
    const [channels, height, width] = shape;
    const { rows, columns } = name === INPUT ? { rows: 1, columns: 1 } : gridOf(channels);
    const figure = make("figure", { class: "stage", "data-layer": name, "data-shape": shape.join("x") }, root);
    const caption = make("figcaption", {}, figure);
    make("span", { class: "stage-name", text: name }, caption);
    make(
      "span",
      { class: "stage-size", text: name === INPUT ? `${height}×${width}` : `${channels} × ${height}×${width}` },
      caption,
    );
    const frame = make("div", { class: "stage-maps" }, figure);
    const canvas = make("canvas", { "aria-hidden": "true" }, frame);
    canvas.width = columns * (width + 1) - 1;
    canvas.height = rows * (height + 1) - 1;
    frame.style.setProperty("--rows", rows);
    frame.style.setProperty("--columns", columns);
    frame.style.aspectRatio = `${canvas.width} / ${canvas.height}`;
    const grid = make("div", { class: "map-grid", role: "group", "aria-label": describeStage(name, shape) }, frame);
    const buttons = [];
    for (let c = 0; c < channels; c++) {
      const button = make("button", { type: "button", tabindex: c === 0 ? "0" : "-1", "data-channel": c }, grid);
      button.addEventListener("click", () => this.open(stage, c));
      buttons.push(button);
    }
    grid.addEventListener("keydown", (event) => this.onKey(event, stage));
    const legend = make("div", { class: "legend" }, figure);
    if (name !== INPUT) make("span", { class: "legend-zero", title: "exactly 0", text: "0" }, legend);
    const bar = make("span", { class: "legend-ramp" }, legend);
    bar.style.background = legendGradient(name === INPUT);
    const top = make("span", { class: "legend-max", text: name === INPUT ? "1" : "–" }, legend);
    const context = canvas.getContext("2d");
    const stage = {
      name,
      shape,
      columns,
      canvas,
      context,
      image: context.createImageData(canvas.width, canvas.height),
    };
    Object.assign(stage, { buttons, top, peaks: new Float32Array(channels), scale: 1, values: null });
    this.label(stage);
    return stage;
  }

  buildOutputs(root, count) {
    const figure = make(
      "figure",
      { class: "stage outputs", "data-layer": "output", "data-shape": String(count) },
      root,
    );
    const caption = make("figcaption", {}, figure);
    make("span", { class: "stage-name", text: "outputs" }, caption);
    make("span", { class: "stage-size", text: `${count}, softmax` }, caption);
    const list = make("ol", { class: "output-bars", "aria-label": "The outputs after the softmax" }, figure);
    return this.settings.labels.slice(0, count).map((label) => {
      const item = make("li", {}, list);
      make("span", { class: "output-label", text: label }, item);
      const track = make("span", { class: "output-track" }, item);
      const bar = make("span", { class: "output-bar" }, track);
      const value = make("span", { class: "output-value", text: "–" }, item);
      return { item, bar, value };
    });
  }

  // The stages of one reading: {stages: {input, conv1, ...}, probabilities, final}, or {encoded, final}
  // from the server; `stages` null for an empty pad.
  show(detail) {
    const started = performance.now();
    let { stages, probabilities } = detail;
    if (detail.encoded !== undefined) {
      stages = detail.encoded && decodeStages(detail.encoded.stages).stages;
      probabilities = detail.encoded?.probabilities ?? null;
    }
    this.latest = stages ? { stages, probabilities } : null;
    for (const stage of this.stages) this.paint(stage, stages?.[stage.name] ?? null);
    const top = probabilities ? Math.max(...probabilities) : null;
    this.outputs?.forEach(({ item, bar, value }, k) => {
      const p = probabilities ? probabilities[k] : 0;
      bar.style.width = `${(100 * p).toFixed(1)}%`;
      value.textContent = probabilities ? `${Math.round(100 * p)}%` : "–";
      item.classList.toggle("top", p === top);
    });
    if (detail.final) for (const stage of this.stages) this.label(stage);
    this.detail.update(this.latest);
    this.updates += 1;
    this.holder.dataset.updates = String(this.updates);
    this.holder.stages = this.latest; // read back by the tests
    performance.measure("network-view-paint", { start: started }); // for benchmarks/network_view.py
  }

  paint(stage, values) {
    const grey = stage.name === INPUT;
    const empty = values === null;
    stage.values = values;
    stage.scale = empty || grey ? 1 : layerScale(values);
    if (empty) stage.image.data.fill(0);
    else stage.peaks = paintMaps(stage.image.data, values, stage.shape, stage.columns, stage.scale, grey);
    if (empty) stage.peaks.fill(0);
    stage.context.putImageData(stage.image, 0, 0);
    if (!grey) stage.top.textContent = empty ? "–" : formatValue(stage.scale);
  }

  // Each map's text alternative: layer, channel, peak value
  label(stage) {
    const [channels] = stage.shape;
    stage.buttons.forEach((button, c) => {
      const peak = stage.values ? `peak ${formatValue(stage.peaks[c])}` : "no drawing yet";
      button.setAttribute("aria-label", `${stage.name}, channel ${c} of ${channels}: ${peak}`);
    });
  }

  open(stage, channel) {
    stage.buttons.forEach((button, c) => button.setAttribute("tabindex", c === channel ? "0" : "-1"));
    this.opened = { stage, channel };
    this.detail.open(stage, channel, this.latest);
  }

  focusOpened() {
    if (this.opened) this.opened.stage.buttons[this.opened.channel].focus();
  }

  // Arrow keys move between a stage's maps (one tab stop per stage); Home and End go to its ends.
  onKey(event, stage) {
    const index = stage.buttons.indexOf(event.target);
    if (index < 0) return;
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -stage.columns, ArrowDown: stage.columns };
    let next = index + (moves[event.key] ?? 0);
    if (event.key === "Home") next = 0;
    if (event.key === "End") next = stage.buttons.length - 1;
    if (next === index || next < 0 || next >= stage.buttons.length) return;
    event.preventDefault();
    stage.buttons[index].setAttribute("tabindex", "-1");
    stage.buttons[next].setAttribute("tabindex", "0");
    stage.buttons[next].focus();
  }
}
