// The drawing pad (Gradio runs this once the component is on the page, with `element`, `trigger` and
// `props`).
//
// Strokes are kept as points in pad coordinates (0..SIZE). They are drawn on the visible board in the
// theme's text colour, and, for reading, in black on a transparent SIZE x SIZE canvas: what the model
// reads is the same in light and dark mode.
//
// Two engines read the drawing:
// - "browser": once reader.mjs has loaded (onnxruntime-web and model.onnx, after the page is interactive),
//   the drawing is read here on every animation frame while the pen moves, and shown through the pad's
//   "input" event, which runs in the page only. On pen-up, Undo and Clear the final answer (a digit or a
//   number) is made here too, and "why this digit" by explainer.mjs (explain.onnx in a Web Worker, loaded
//   after the reader): the server gets no request per stroke. Without the explanation's graph, or when it
//   fails, the server explains (the pad's "select" event).
// - "server" (until the reader is ready, or when it cannot load): frames go to the server about ten times
//   a second while the pen moves, as the "submit" event; the app listens with trigger_mode="always_last",
//   so while one frame is being read only the newest waiting frame is kept. Its answer, with the number
//   and the explanation, is the final word.
// The network view (#network-view, mnist_cnn/web/network) shows every stage of the same run: while it is
// visible (its data-visible), the browser's readings ask model.onnx for the stages too, and each is
// announced by a "pad-stages" window event ({stages, probabilities, final}, or {encoded, final} from the
// server, which sends them with its answer to a final frame when the frame asks for them).
// `data-engine` on #drawing-pad says which one reads, `data-explainer` whether the page explains ("browser")
// or the server does, `data-answers` counts the answers shown. Each final drawing (sent to the server, or
// answered here) is announced by a "pad-frame" DOM event on #drawing-pad, for the feedback buttons, which
// send the pad's value (its `image`) with a correction.
const SIZE = 400; // pad coordinates, and the side of the image sent
const BRUSH = 24; // brush diameter in pad coordinates: about a pen stroke once the digit is scaled to 20 px
const FRAME_MS = 100; // server engine: while the pen moves, at most one frame every 100 ms

const pad = element.querySelector(".pad");
const board = element.querySelector("canvas.board");
const undoButton = element.querySelector("#undo-button");
const clearButton = element.querySelector("#clear-button");
const holder = element.closest("#drawing-pad") ?? element;
const frame = document.createElement("canvas");
frame.width = frame.height = SIZE;
const frameContext = frame.getContext("2d", { willReadFrequently: true }); // read back on every frame
const padId = Math.random().toString(36).slice(2); // answers from the server name the pad they are for

const strokes = []; // finished strokes, each a list of [x, y]
let active = null; // { pointerId, points } while a stroke is being drawn
let seq = 0; // number of the last frame sent
let floor = 0; // answers to frames numbered below this came before a Clear or an Undo
let lastSent = 0;
let timer = null;
let redrawQueued = false;
let image = null; // the drawing as last sent to the server (a PNG data URL), kept for its explanation
let reader = null; // the in-browser reader, once loaded
let pictureCanvas = null; // reader.mjs's, once loaded
let engine = "server";
let answers = 0;
let inkVersion = 0; // bumped whenever the ink changes: a reading of older ink is not shown
let readQueued = false;
let reading = false;
let animationFrames = 0;
let readFrame = -1; // the animation frame in which the last reading started
let explainer = null; // the in-browser explanation, once loaded
let explainerLoading = null; // a promise while it loads
let explainDigit = -1; // "Explain which digit": -1 for the model's best guess
let final = null; // the browser's last final answer: what "why" explains
let explanations = 0; // bumped with each explanation asked for: an older one is not shown
const shown = {}; // what the browser's readings put on the page since the last frame sent to the server
function forgetShown() {
  Object.assign(shown, { label: null, status: null, image: null, boxesHidden: false });
}
forgetShown();

function setEngine(name) {
  engine = name;
  holder.dataset.engine = name;
}
function setExplainer(name) {
  holder.dataset.explainer = name;
}
setExplainer("server");
function countAnswer() {
  answers += 1;
  holder.dataset.answers = String(answers);
}
setEngine("server");
holder.dataset.answers = "0";

function drawStroke(ctx, points, scale, color) {
  ctx.save();
  ctx.scale(scale, scale);
  ctx.strokeStyle = ctx.fillStyle = color;
  ctx.lineWidth = BRUSH;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  if (points.length === 1) {
    ctx.arc(points[0][0], points[0][1], BRUSH / 2, 0, 2 * Math.PI);
    ctx.fill();
  } else {
    // through the midpoints, with the recorded points as control points: smooth curves, no corners
    ctx.moveTo(points[0][0], points[0][1]);
    for (let i = 1; i < points.length - 1; i++) {
      const [x, y] = points[i];
      const [nx, ny] = points[i + 1];
      ctx.quadraticCurveTo(x, y, (x + nx) / 2, (y + ny) / 2);
    }
    const [lx, ly] = points[points.length - 1];
    ctx.lineTo(lx, ly);
    ctx.stroke();
  }
  ctx.restore();
}

function allStrokes() {
  return active ? [...strokes, active.points] : strokes;
}

function redraw() {
  redrawQueued = false;
  const ctx = board.getContext("2d");
  ctx.clearRect(0, 0, board.width, board.height);
  const color = getComputedStyle(board).color;
  for (const points of allStrokes()) drawStroke(ctx, points, board.width / SIZE, color);
  const empty = allStrokes().length === 0;
  pad.classList.toggle("empty", empty);
  undoButton.disabled = empty;
  clearButton.disabled = empty;
}

function queueRedraw() {
  if (!redrawQueued) {
    redrawQueued = true;
    requestAnimationFrame(redraw);
  }
}

// The board's bitmap follows its size on screen and the device's pixel ratio, so the ink stays sharp.
function fitBoard() {
  const side = Math.max(1, Math.round(board.getBoundingClientRect().width * (window.devicePixelRatio || 1)));
  if (board.width !== side) {
    board.width = board.height = side;
    redraw();
  }
}
new ResizeObserver(fitBoard).observe(board);
// The theme can change under the pad (the system's dark mode): redraw in the new ink colour.
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", queueRedraw);

// The ink in black on the transparent reading canvas; false when the pad is empty.
function renderFrame() {
  const drawn = allStrokes();
  frameContext.clearRect(0, 0, SIZE, SIZE);
  for (const points of drawn) drawStroke(frameContext, points, 1, "#000");
  return drawn.length > 0;
}

// What the browser made, put on the page by the pad's "input" event (show_live.js), in the page only.
function show(live) {
  props.value = { image, seq, floor, pad: padId, live };
  trigger("input");
}

// A new final drawing: numbered, kept as a PNG (for its explanation on the server and for a correction)
// and announced to the feedback buttons.
function newFrame() {
  seq += 1;
  performance.mark("pad-frame", { detail: seq });
  forgetShown();
  image = renderFrame() ? frame.toDataURL("image/png") : null;
  holder.dispatchEvent(new CustomEvent("pad-frame", { bubbles: true, detail: { seq, empty: image === null } }));
}

// Whether the network view is on screen: only then are the stages asked for.
function networkVisible() {
  const root = element.getRootNode();
  const view = root.getElementById?.("network-view") ?? document.getElementById("network-view");
  return view?.dataset.visible === "true";
}

// The stages of a reading, for the network view (null: the pad is empty).
function announceStages(detail) {
  window.dispatchEvent(new CustomEvent("pad-stages", { detail: { pad: padId, ...detail } }));
}

// A frame for the server to read (the "submit" event). `final`: the ink as the pen left it (pen-up, Undo,
// Clear), whose answer brings the network view's stages when the view is on screen.
function sendFrame(final = false) {
  clearTimeout(timer);
  timer = null;
  lastSent = performance.now();
  newFrame(); // the server's answer will replace what the browser showed
  props.value = { image, seq, floor, pad: padId, ...(final === true && { final: true, layers: networkVisible() }) };
  trigger("submit");
}

// Browser engine: the final answer for the ink as it is now (pen-up, Undo, Clear), made in the page, then
// its explanation.
async function answerInBrowser() {
  const version = inkVersion;
  const started = performance.now();
  newFrame();
  floor = seq; // an answer from the server still on its way is for older ink
  const drawing = document.createElement("canvas"); // the ink as it is now: the pen may move on meanwhile
  drawing.width = drawing.height = SIZE;
  drawing.getContext("2d").drawImage(frame, 0, 0);
  let answer;
  const rgba = frameContext.getImageData(0, 0, SIZE, SIZE).data;
  const withStages = networkVisible();
  try {
    answer = await reader.readFinal(rgba, SIZE, SIZE, drawing, withStages);
  } catch (error) {
    console.warn("The in-browser reader failed; the server reads the drawing from now on.", error);
    setEngine("server");
    sendFrame(true);
    return;
  }
  if (version !== inkVersion || active) return; // the ink changed: its own answer follows
  final = answer;
  if (withStages) announceStages({ ...(answer.network ?? { stages: null }), final: true }); // null: empty
  const why = answer.explain
    ? {}
    : { why_image: null, why_text: answer.number ? reader.settings.messages.explain_number : "" };
  show({ label: answer.label, image: answer.image, status: answer.status, boxes: answer.boxes, ...why });
  shown.boxesHidden = answer.boxes === null;
  countAnswer();
  performance.measure("pad-final", { start: started, detail: seq });
  if (answer.explain) explainInBrowser(started);
}

// "Why this digit" for the browser's final answer: in the worker, else (no graph, or it failed) by the server.
async function explainInBrowser(started = performance.now()) {
  const answer = final;
  const request = ++explanations;
  if (!answer) {
    if (image) askServerToExplain(); // drawn before the reader was ready: the server answered it
    return;
  }
  if (!answer.explain) return; // a number, or an empty pad: the answer said why there is nothing to explain
  if (explainerLoading) await explainerLoading;
  if (request !== explanations) return; // a newer one was asked for meanwhile
  if (!explainer) {
    askServerToExplain();
    return;
  }
  const { field, best } = answer.explain;
  try {
    const why = await explainer.why(field, explainDigit < 0 ? best : explainDigit, best);
    if (why === null || request !== explanations || answer !== final) return; // a newer one is on its way
    const side = why.side;
    const picture = { url: pictureCanvas(why.picture, side, side).toDataURL("image/png"), orig_name: "why.png" };
    show({ why_image: picture, why_text: why.text });
    performance.measure("pad-why", { start: started, detail: seq });
  } catch (error) {
    console.warn("The in-browser explanation failed; the server explains from now on.", error);
    explainer = null;
    setExplainer("server");
    askServerToExplain();
  }
}

// The server explains the pad's drawing (its "select" event), with "Explain which digit" as it is set.
function askServerToExplain() {
  props.value = { image, seq, floor, pad: padId };
  trigger("select");
}

// While drawing: the browser reads on the next animation frame; the server engine gets one frame per
// FRAME_MS at most, and the pen's latest position is never left unsent.
function inkMoved() {
  inkVersion += 1;
  if (engine === "browser") {
    readSoon();
    return;
  }
  const wait = FRAME_MS - (performance.now() - lastSent);
  if (wait <= 0) sendFrame();
  else if (timer === null) timer = setTimeout(sendFrame, wait);
}

// At once when no reading has started in this animation frame, else at the next frame.
function readSoon() {
  if (!reading && readFrame !== animationFrames) readInBrowser();
  else if (!readQueued) {
    readQueued = true;
    requestAnimationFrame(readInBrowser);
  }
}

// Counts animation frames while a stroke is drawn.
function countFrames() {
  animationFrames += 1;
  if (active) requestAnimationFrame(countFrames);
}

// One reading per animation frame at most; a frame is skipped while the last reading still runs.
async function readInBrowser() {
  readQueued = false;
  if (reading || engine !== "browser" || !active) return;
  reading = true;
  readFrame = animationFrames;
  const version = inkVersion;
  const started = performance.now();
  try {
    const answer = renderFrame()
      ? await reader.read(frameContext.getImageData(0, 0, SIZE, SIZE).data, SIZE, SIZE, networkVisible())
      : null;
    performance.measure("pad-read", { start: started }); // in the browser's performance timeline
    if (answer && version === inkVersion && active) {
      // What has not changed on the page is not sent again: Gradio redraws only what it is given.
      const imageKey = answer.image?.url ?? "";
      const rounded = (key, value) => (key === "confidence" ? Math.round(1000 * value) : value);
      const labelShown = JSON.stringify(answer.label, rounded);
      const live = {
        image: imageKey === shown.image ? undefined : answer.image,
        label: labelShown === shown.label ? undefined : answer.label,
        status: answer.status === shown.status ? undefined : answer.status,
        boxes: shown.boxesHidden ? undefined : null, // a number's boxes, from the server, are hidden once
      };
      shown.label = labelShown;
      shown.status = answer.status;
      shown.image = imageKey;
      shown.boxesHidden = true;
      props.value = { image, seq, floor, pad: padId, live };
      trigger("input");
      countAnswer();
      if (answer.network) announceStages({ ...answer.network, final: false });
    }
  } catch (error) {
    console.warn("The in-browser reader failed; the server reads the drawing from now on.", error);
    setEngine("server");
  } finally {
    reading = false;
    if (version !== inkVersion && active) readSoon(); // the pen moved on while this one ran
  }
}

function erase(how) {
  if (active) return; // not while a stroke is being drawn
  if (how === "undo") strokes.pop();
  else strokes.length = 0;
  inkVersion += 1;
  floor = seq + 1; // drop any answer still on its way for the ink just removed
  redraw();
  if (engine === "browser") answerInBrowser();
  else sendFrame(true);
}

function toPad(event) {
  const rect = board.getBoundingClientRect();
  const x = ((event.clientX - rect.left) / rect.width) * SIZE;
  const y = ((event.clientY - rect.top) / rect.height) * SIZE;
  return [Math.min(SIZE, Math.max(0, x)), Math.min(SIZE, Math.max(0, y))];
}

board.addEventListener("pointerdown", (event) => {
  if (active || (event.pointerType === "mouse" && event.button !== 0)) return;
  event.preventDefault();
  board.setPointerCapture(event.pointerId);
  active = { pointerId: event.pointerId, points: [toPad(event)] };
  // The browser reads the new ink from now on: an answer still on its way for the ink before this stroke
  // is dropped (the server engine's answers during a stroke are its live reading: they are kept).
  if (engine === "browser") floor = seq + 1;
  requestAnimationFrame(countFrames);
  queueRedraw();
  inkMoved();
});

// Where the browser has them (Chromium), pointerrawupdate events come as soon as the pen moves, without
// waiting for the next animation frame as pointermove does: the points come from them, and a reading
// can start at once.
const MOVE_EVENT = "onpointerrawupdate" in window ? "pointerrawupdate" : "pointermove";
board.addEventListener(MOVE_EVENT, (event) => {
  if (!active || event.pointerId !== active.pointerId) return;
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) active.points.push(toPad(move));
  queueRedraw();
  inkMoved();
});

function endStroke(event) {
  if (!active || event.pointerId !== active.pointerId) return;
  strokes.push(active.points);
  active = null;
  inkVersion += 1; // a live reading still running is not shown: the final answer follows
  redraw();
  if (engine === "browser") answerInBrowser();
  else sendFrame(true); // the answer for the finished stroke, at once
}
board.addEventListener("pointerup", endStroke);
board.addEventListener("pointercancel", endStroke);
board.addEventListener("contextmenu", (event) => event.preventDefault());

undoButton.addEventListener("click", () => erase("undo"));
clearButton.addEventListener("click", () => erase("clear"));

// Ctrl/Cmd+Z undoes and Escape clears wherever the focus is, except while typing in a text field.
function onKey(event) {
  if (!element.isConnected) {
    document.removeEventListener("keydown", onKey);
    return;
  }
  const typing = "input, textarea, select, [contenteditable]:not([contenteditable='false'])";
  if (event.target instanceof Element && event.target.closest(typing)) return;
  const undo = (event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "z";
  if (undo && strokes.length) {
    event.preventDefault();
    erase("undo");
  } else if (event.key === "Escape" && !event.ctrlKey && !event.metaKey && strokes.length) {
    erase("clear");
  }
}
document.addEventListener("keydown", onKey);

// Answers from the server, applied by apply_result.js, are counted too; their stages go to the network view.
function onServerAnswer(event) {
  if (!element.isConnected) window.removeEventListener("pad-answer", onServerAnswer);
  else if (event.detail.pad === padId) {
    countAnswer();
    if (event.detail.layers !== undefined) announceStages({ encoded: event.detail.layers, final: true });
  }
}
window.addEventListener("pad-answer", onServerAnswer);

// The network view came into sight (its "network-visible" event): it gets the stages of the ink as it is.
async function onNetworkVisible() {
  if (!element.isConnected) window.removeEventListener("network-visible", onNetworkVisible);
  else if (engine === "browser" && !active) {
    const drawn = renderFrame();
    const answer = drawn ? await reader.read(frameContext.getImageData(0, 0, SIZE, SIZE).data, SIZE, SIZE, true) : null;
    if (!active) announceStages({ ...(answer?.network ?? { stages: null }), final: true });
  }
}
window.addEventListener("network-visible", onNetworkVisible);

// "Explain which digit" changed (explain_digit.js): explain again, here or on the server.
function onExplainDigit(event) {
  if (!element.isConnected) window.removeEventListener("pad-explain", onExplainDigit);
  else if (event.detail.pad === padId) {
    explainDigit = event.detail.digit;
    if (engine === "browser") explainInBrowser();
    else askServerToExplain();
  }
}
window.addEventListener("pad-explain", onExplainDigit);

// The reader loads once the page is interactive, without holding up anything else on it.
async function loadReader(settings) {
  if (!settings || typeof WebAssembly !== "object") return;
  try {
    performance.mark("pad-reader-requested");
    const base = appRoot(element);
    const module = await import(new URL(settings.module, base).href);
    reader = await module.Reader.load(settings, base);
    pictureCanvas = module.pictureCanvas;
    setEngine("browser");
    performance.measure("pad-reader-load", "pad-reader-requested");
  } catch (error) {
    console.warn("The pad reads on the server: the in-browser reader did not load.", error);
    return;
  }
  if (settings.explain) {
    // a pen-up meanwhile waits for it rather than asking the server
    explainerLoading = new Promise((resolve) =>
      whenIdle(() => loadExplainer(settings, appRoot(element)).then(resolve)),
    );
  }
}

// The explanation's workers load once the reader is ready; if they cannot, the server explains.
async function loadExplainer(settings, base) {
  try {
    const { Explainer } = await import(new URL(settings.explain.module, base).href);
    explainer = await Explainer.load(settings, base);
    setExplainer("browser");
    performance.measure("pad-explainer-load", "pad-reader-requested");
  } catch (error) {
    console.warn("The server explains: the in-browser explanation did not load.", error);
  } finally {
    explainerLoading = null;
  }
}
function whenIdle(callback) {
  const idle = () =>
    window.requestIdleCallback ? requestIdleCallback(callback, { timeout: 500 }) : setTimeout(callback, 0);
  if (document.readyState === "complete") idle();
  else window.addEventListener("load", idle, { once: true });
}
whenIdle(() => loadReader(props.reader));
props.value = { image: null, seq, floor, pad: padId }; // names this pad to explain_digit.js from the start

fitBoard();
redraw();
