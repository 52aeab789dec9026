// The page's side of the explanation: Web Workers (explain_worker.mjs) that run explain.onnx, and the overlay
// drawn from their attributions (explain.mjs). The integral's steps are shared among up to WORKERS workers,
// each summing its share (Integrated Gradients is a weighted sum over the steps): on a phone's or a laptop's
// several cores the explanation takes half the time. Only the newest explanation asked for is computed once
// the workers are free: the ones asked for meanwhile are dropped (their promise resolves to null).
// A worker is started from a blob that imports the worker module by its full URL: a worker script must come
// from the page's own origin, and the app may be embedded in another site's page (the module itself is
// served with CORS).

import { overlay, whyText } from "./explain.mjs";

const WORKERS = 2;

// Start one worker and load explain.onnx (`graph`: its bytes, fetched once for all workers) in it.
async function startWorker(settings, base, graph) {
  const url = (path) => new URL(path, base).href;
  const source = `import ${JSON.stringify(url(settings.explain.worker))};`;
  const blob = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(blob, { type: "module" });
  try {
    await new Promise((resolve, reject) => {
      worker.addEventListener("message", ({ data }) => {
        if (data.type === "ready") resolve();
        else if (data.type === "error") reject(new Error(data.message));
      });
      worker.addEventListener("error", (event) => reject(new Error(event.message || "the worker failed")));
      worker.postMessage({
        type: "load",
        runtime: url(settings.runtime),
        wasm: url(settings.wasm),
        model: graph.slice(0),
      });
    });
  } catch (error) {
    worker.terminate();
    throw error;
  } finally {
    URL.revokeObjectURL(blob);
  }
  return worker;
}

// One worker's share of the integral: its attributions for the steps given
function share(worker, id, field, digit, alphas, weights) {
  return new Promise((resolve, reject) => {
    const listen = ({ data }) => {
      if (data.id !== id) return;
      worker.removeEventListener("message", listen);
      if (data.type === "attributions") resolve(data.attributions);
      else reject(new Error(data.message));
    };
    worker.addEventListener("message", listen);
    worker.postMessage({ type: "explain", id, field: Array.from(field), digit, alphas, weights });
  });
}

export class Explainer {
  constructor(workers, settings) {
    this.workers = workers;
    this.settings = settings;
    this.requests = 0;
    this.running = null; // the explanation being computed
    this.next = null; // the newest one asked for meanwhile: {field, digit, resolve, reject}
  }

  // Start the workers and load explain.onnx in each. `base`: the URL the settings' paths are relative to.
  static async load(settings, base) {
    const count = Math.max(1, Math.min(WORKERS, navigator.hardwareConcurrency || 1));
    const response = await fetch(new URL(settings.explain.model, base).href);
    if (!response.ok) throw new Error(`explain.onnx: HTTP ${response.status}`);
    const graph = new Uint8Array(await response.arrayBuffer());
    const workers = await Promise.all(Array.from({ length: count }, () => startWorker(settings, base, graph)));
    return new Explainer(workers, settings);
  }

  // The attributions of `digit` for a 28x28 field (explain_graph.py's graph: captum's Integrated Gradients),
  // or null when a newer explanation was asked for before this one started.
  attributions(field, digit) {
    return new Promise((resolve, reject) => {
      this.next?.resolve(null);
      this.next = { field, digit, resolve, reject };
      if (!this.running) this.runNext();
    });
  }

  async runNext() {
    const job = this.next;
    this.next = null;
    if (!job) return;
    this.running = job;
    this.requests += 1;
    const { alphas, weights } = this.settings.explain;
    const count = this.workers.length;
    try {
      const parts = await Promise.all(
        this.workers.map((worker, w) => {
          const steps = alphas.map((_, i) => i).filter((i) => i % count === w);
          const pick = (values) => steps.map((i) => values[i]);
          return share(worker, this.requests, job.field, job.digit, pick(alphas), pick(weights));
        }),
      );
      const total = new Float32Array(parts[0].length);
      for (const part of parts) for (let i = 0; i < total.length; i++) total[i] += part[i];
      job.resolve(total);
    } catch (error) {
      job.reject(error);
    } finally {
      this.running = null;
      this.runNext();
    }
  }

  // explain.why for a field read as `readAs`: {picture (RGBA bytes), side, text}, or null (superseded)
  async why(field, digit, readAs) {
    const attributions = await this.attributions(field, digit);
    if (attributions === null) return null;
    const style = this.settings.explain;
    return {
      picture: overlay(field, attributions, style, this.settings.sketch.field),
      side: this.settings.sketch.field * style.scale,
      text: whyText(digit, readAs, this.settings.messages),
    };
  }
}
