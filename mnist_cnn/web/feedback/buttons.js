// "Tell it what you drew": the buttons under the answer (Gradio runs this once the component is on the page,
// with `element`, `trigger`, `props` and `watch`).
//
// The pad announces each frame it sends to the server with a "pad-frame" event ({seq, empty}) that bubbles
// up to this app's container. The buttons are enabled while the pad holds a drawing not yet saved. A click
// sends {label, seq, request} as this component's "submit" event, with the pad's value beside it; the
// server answers in this component's value ({request, saved, message}), which `watch` puts on the page.
// After a save the buttons stay disabled until the drawing changes: one drawing is saved once.
const ANSWER_WAIT_MS = 20000; // no answer by then (the server is overloaded or gone): the buttons come back

const buttons = [...element.querySelectorAll(".choices button")];
const outcome = element.querySelector(".outcome");
const scope = element.closest(".gradio-container") ?? document; // this app only, when a page embeds several

let drawing = null; // the pad's last frame: {seq, empty}
let savedSeq = null; // the frame saved last
let pending = null; // {request, seq, timer} while the server saves
let requests = 0;

function update() {
  const ready = drawing !== null && !drawing.empty && pending === null && drawing.seq !== savedSeq;
  for (const button of buttons) button.disabled = !ready;
}

function say(message, kind) {
  outcome.textContent = message;
  outcome.dataset.kind = kind;
}

function onFrame(event) {
  if (!element.isConnected) {
    scope.removeEventListener("pad-frame", onFrame);
    return;
  }
  drawing = event.detail;
  if (pending === null && drawing.seq !== savedSeq) {
    say("", "");
    for (const button of buttons) button.classList.remove("chosen");
  }
  update();
}
scope.addEventListener("pad-frame", onFrame);

for (const button of buttons) {
  button.addEventListener("click", () => {
    if (button.disabled || drawing === null) return;
    requests += 1;
    const request = requests;
    pending = {
      request,
      seq: drawing.seq,
      timer: setTimeout(() => {
        if (pending?.request !== request) return;
        pending = null;
        say("No answer from the server: nothing was confirmed. Try again.", "refused");
        update();
      }, ANSWER_WAIT_MS),
    };
    for (const other of buttons) other.classList.toggle("chosen", other === button);
    say("Saving…", "saving");
    update();
    props.value = { label: button.dataset.label, seq: drawing.seq, request };
    trigger("submit");
  });
}

watch("value", () => {
  const answer = props.value;
  // (the value this page set for its own click comes through here too: it has no message)
  if (typeof answer?.message !== "string" || pending === null || answer.request !== pending.request) return;
  clearTimeout(pending.timer);
  if (answer.saved) savedSeq = pending.seq;
  else for (const button of buttons) button.classList.remove("chosen");
  pending = null;
  say(answer.message, answer.saved ? "saved" : "refused");
  update();
});

update();
