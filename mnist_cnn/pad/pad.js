// The drawing pad (Gradio runs this once the component is on the page, with `element` and `props`).
//
// Strokes are kept as points in pad coordinates (0..SIZE). They are drawn on the visible board in the
// theme's text colour, and, when a frame is sent, in black on a transparent SIZE x SIZE canvas: what the
// model reads is the same in light and dark mode. Setting `props.value` fires the component's change
// event; the app listens with trigger_mode="always_last", so while one frame is being read only the
// newest waiting frame is kept and the rest are dropped.
const SIZE = 400; // pad coordinates, and the side of the image sent
const BRUSH = 24; // brush diameter in pad coordinates: about a pen stroke once the digit is scaled to 20 px
const FRAME_MS = 100; // while the pen moves, at most one frame every 100 ms

const pad = element.querySelector(".pad");
const board = element.querySelector("canvas.board");
const undoButton = element.querySelector("#undo-button");
const clearButton = element.querySelector("#clear-button");
const frame = document.createElement("canvas");
frame.width = frame.height = SIZE;

const strokes = []; // finished strokes, each a list of [x, y]
let active = null; // { pointerId, points } while a stroke is being drawn
let seq = 0; // number of the last frame sent
let floor = 0; // answers to frames numbered below this came before a Clear or an Undo
let lastSent = 0;
let timer = null;
let redrawQueued = false;

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

function sendFrame() {
  clearTimeout(timer);
  timer = null;
  lastSent = performance.now();
  seq += 1;
  let image = null;
  const drawn = allStrokes();
  if (drawn.length) {
    const ctx = frame.getContext("2d");
    ctx.clearRect(0, 0, SIZE, SIZE);
    for (const points of drawn) drawStroke(ctx, points, 1, "#000");
    image = frame.toDataURL("image/png");
  }
  props.value = { image, seq, floor };
}

// While drawing: one frame per FRAME_MS at most, and the pen's latest position is never left unsent.
function sendSoon() {
  const wait = FRAME_MS - (performance.now() - lastSent);
  if (wait <= 0) sendFrame();
  else if (timer === null) timer = setTimeout(sendFrame, wait);
}

function erase(how) {
  if (active) return; // not while a stroke is being drawn
  if (how === "undo") strokes.pop();
  else strokes.length = 0;
  floor = seq + 1; // drop any answer still on its way for the ink just removed
  redraw();
  sendFrame();
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
  queueRedraw();
  sendSoon();
});

board.addEventListener("pointermove", (event) => {
  if (!active || event.pointerId !== active.pointerId) return;
  event.preventDefault();
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) active.points.push(toPad(move));
  queueRedraw();
  sendSoon();
});

function endStroke(event) {
  if (!active || event.pointerId !== active.pointerId) return;
  strokes.push(active.points);
  active = null;
  redraw();
  sendFrame(); // the answer for the finished stroke, at once
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
  const target = event.target;
  if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])")) return;
  const undo = (event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "z";
  if (undo && strokes.length) {
    event.preventDefault();
    erase("undo");
  } else if (event.key === "Escape" && !event.ctrlKey && !event.metaKey && strokes.length) {
    erase("clear");
  }
}
document.addEventListener("keydown", onKey);

fitBoard();
redraw();
