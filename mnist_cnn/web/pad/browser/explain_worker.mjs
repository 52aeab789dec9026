// The explanation's worker: runs explain.onnx (Integrated Gradients, mnist_cnn/reading/explain_graph.py) with
// its own onnxruntime-web, off the page's main thread, so that the pad keeps reading while it works.
// Messages in: {type: "load", runtime, wasm, model (the graph's bytes)} then {type: "explain", id, field, digit, alphas,
// weights}; out: {type: "ready"}, {type: "attributions", id, attributions} or {type: "error", id, message}.

let ort = null;
let session = null;

async function load({ runtime, wasm, model }) {
  ort = await import(runtime);
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = { wasm };
  session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"] });
}

async function explain({ field, digit, alphas, weights }) {
  const feeds = {
    image: new ort.Tensor("float32", Float32Array.from(field), [1, 1, 28, 28]),
    target: new ort.Tensor("int64", BigInt64Array.from([BigInt(digit)]), [1]),
    alphas: new ort.Tensor("float32", Float32Array.from(alphas), [alphas.length]),
    step_weights: new ort.Tensor("float32", Float32Array.from(weights), [weights.length]),
  };
  const { attributions } = await session.run(feeds);
  return Float32Array.from(attributions.data);
}

self.addEventListener("message", async ({ data }) => {
  try {
    if (data.type === "load") {
      await load(data);
      self.postMessage({ type: "ready" });
    } else if (data.type === "explain") {
      const attributions = await explain(data);
      self.postMessage({ type: "attributions", id: data.id, attributions }, [attributions.buffer]);
    }
  } catch (error) {
    self.postMessage({ type: "error", id: data.id ?? null, message: String(error?.message ?? error) });
  }
});
