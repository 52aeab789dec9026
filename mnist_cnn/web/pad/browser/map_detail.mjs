// One map of the network view, opened: large, with its channel number and peak, the 3x3 kernel that made
// it (first layer), and its dataset examples: the MNIST test images that excite the channel most, which
// train.py found (mnist_cnn/learning/dataset_examples.py). Those are fetched when a map is first opened,
// never before: a visit that opens no map does not download them.

import { paintMap, weightColour } from "./network_colours.mjs";
import { formatValue } from "./network_data.mjs";

const KERNEL_LAYER = "conv1";

function make(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  parent.append(node);
  return node;
}

export class MapDetail {
  constructor(root, settings, base, onClose) {
    this.root = root;
    this.settings = settings;
    this.base = base;
    this.onClose = onClose;
    this.examples = null; // a promise, once the first map is opened
    root.hidden = true;
    root.setAttribute("role", "region");
    const head = make("div", "detail-head", root);
    this.title = make("h4", "detail-title", head);
    this.closeButton = make("button", "detail-close", head, "✕ Close");
    this.closeButton.type = "button";
    this.closeButton.addEventListener("click", () => this.close());
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation(); // not the pad's Escape (Clear)
        this.close();
      }
    });
    const body = make("div", "detail-body", root);
    const map = make("figure", "detail-map", body);
    this.canvas = make("canvas", "", map);
    this.peak = make("figcaption", "", map);
    this.kernel = make("figure", "detail-kernel", body);
    this.kernelGrid = make("div", "kernel-grid", this.kernel);
    make("figcaption", "", this.kernel, "its 3×3 kernel: red adds, blue takes away");
    const examples = make("figure", "detail-examples", body);
    this.exampleGrid = make("div", "example-grid", examples);
    this.examplesCaption = make("figcaption", "", examples);
  }

  open(stage, channel, latest) {
    this.stage = stage;
    this.channel = channel;
    const [channels, height, width] = stage.shape;
    this.root.hidden = false;
    this.root.dataset.layer = stage.name;
    this.root.dataset.channel = String(channel);
    this.root.setAttribute("aria-label", `${stage.name}, channel ${channel}, opened`);
    this.title.textContent = `${stage.name} · channel ${channel} of ${channels} (${height}×${width})`;
    this.canvas.width = width;
    this.canvas.height = height;
    this.update(latest);
    this.showKernel(stage.name, channel);
    this.showExamples(stage.name, channel);
    this.closeButton.focus({ preventScroll: true });
    this.root.scrollIntoView({ block: "nearest" });
  }

  // The opened map follows the drawing while it is open.
  update(latest) {
    if (this.root.hidden || !this.stage) return;
    const [, height, width] = this.stage.shape;
    const size = height * width;
    const values = latest?.stages?.[this.stage.name]?.subarray(this.channel * size, (this.channel + 1) * size);
    const image = new ImageData(width, height);
    if (values) paintMap(image.data, values, height, width, this.stage.scale, this.stage.name === "input");
    this.canvas.getContext("2d").putImageData(image, 0, 0);
    const peak = values ? Math.max(...values) : null;
    this.peak.textContent =
      peak === null
        ? "Draw a digit to see this map."
        : `peak ${formatValue(peak)} (the layer's scale: 0 to ${formatValue(this.stage.scale)})`;
  }

  showKernel(name, channel) {
    this.kernelGrid.replaceChildren();
    this.kernel.hidden = name !== KERNEL_LAYER;
    if (this.kernel.hidden) return;
    this.loadExamples().then((data) => {
      if (this.stage?.name !== name || this.channel !== channel || !data) return;
      const kernel = data.kernels[name][channel];
      const scale = Math.max(...data.kernels[name].flat(2).map(Math.abs));
      this.kernelGrid.replaceChildren();
      for (const weight of kernel.flat()) {
        const cell = make("span", "kernel-cell", this.kernelGrid, weight.toFixed(2));
        cell.style.background = weightColour(weight, scale);
      }
    });
  }

  // The examples' data and picture, fetched once (null when the bundle has none, or they fail to load)
  loadExamples() {
    const files = this.settings.examples;
    if (!files) return Promise.resolve(null);
    this.examples ??= (async () => {
      const [data, picture] = await Promise.all([
        fetch(new URL(files.data, this.base)).then((response) => {
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          return response.json();
        }),
        new Promise((resolve, reject) => {
          const image = new Image();
          image.crossOrigin = "anonymous";
          image.onload = () => resolve(image);
          image.onerror = () => reject(new Error("the examples' picture did not load"));
          image.src = new URL(files.image, this.base).href;
        }),
      ]);
      return { ...data, picture };
    })().catch((error) => {
      console.warn("The dataset examples did not load.", error);
      return null;
    });
    return this.examples;
  }

  async showExamples(name, channel) {
    this.exampleGrid.replaceChildren();
    this.root.dataset.examples = "0";
    if (name === "input") {
      this.examplesCaption.textContent = "The input is the drawing itself.";
      return;
    }
    this.examplesCaption.textContent = this.settings.examples ? "Loading the test images…" : "";
    const data = await this.loadExamples();
    if (this.stage?.name !== name || this.channel !== channel) return; // another map was opened meanwhile
    if (!data) {
      this.examplesCaption.textContent = "This model's bundle has no dataset examples (train.py writes them).";
      return;
    }
    const { slots, strengths } = data.stages[name];
    const { columns, side } = data.atlas;
    slots[channel].forEach((slot, k) => {
      const item = make("figure", "example", this.exampleGrid);
      const canvas = make("canvas", "", item);
      canvas.width = canvas.height = side;
      const [sx, sy] = [(slot % columns) * side, Math.floor(slot / columns) * side];
      canvas.getContext("2d").drawImage(data.picture, sx, sy, side, side, 0, 0, side, side);
      const label = data.labels[slot];
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `a test image of a ${label}, mean ${formatValue(strengths[channel][k])}`);
      make("figcaption", "", item, `${label} · ${formatValue(strengths[channel][k])}`);
    });
    const count = slots[channel].length;
    this.examplesCaption.textContent = `The ${count} of ${data.source} that excite it most (the mean of the map)`;
    this.root.dataset.examples = String(slots[channel].length);
  }

  close() {
    this.root.hidden = true;
    this.stage = null;
    this.onClose();
  }
}
