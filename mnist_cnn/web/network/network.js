// The network view (Gradio runs this once the component is on the page, with `element` and `props`; Python
// puts app_root.js's appRoot in front). It loads network_view.mjs from the app, shows the stages that the
// pad announces ("pad-stages" window events: from the browser's reader on every animation frame while the
// pen moves, or from the server on pen-up), and keeps data-visible on #network-view: whether it is open
// and on screen, the only time the pad asks model.onnx for the stages.
const holder = element.closest("#network-view") ?? element;
const fold = element.querySelector("details");
const settings = props.network;
let view = null;
let onScreen = false;
holder.dataset.updates = "0";
holder.dataset.visible = "false";

// Folded by default on a phone-width page, where the pad fills the screen; open on a desktop.
if (window.matchMedia("(max-width: 640px)").matches) fold.open = false;

function updateVisible() {
  const visible = onScreen && fold.open && view !== null;
  if (String(visible) === holder.dataset.visible) return;
  holder.dataset.visible = String(visible);
  if (visible) window.dispatchEvent(new CustomEvent("network-visible")); // the pad sends what is drawn
}
new IntersectionObserver((entries) => {
  onScreen = entries.some((entry) => entry.isIntersecting);
  updateVisible();
}).observe(element.querySelector(".network"));
fold.addEventListener("toggle", updateVisible);

function onStages(event) {
  if (!element.isConnected) window.removeEventListener("pad-stages", onStages);
  else view?.show(event.detail);
}
window.addEventListener("pad-stages", onStages);

async function loadView() {
  if (!settings) return;
  const base = appRoot(element);
  try {
    const { NetworkView } = await import(new URL(settings.module, base).href);
    const stages = element.querySelector(".network-stages");
    view = new NetworkView(holder, stages, element.querySelector(".map-detail"), settings, base);
    holder.dataset.ready = "true";
  } catch (error) {
    console.warn("The network view did not load.", error);
    element.querySelector(".network-note").textContent = "The network view could not load in this browser.";
  }
  updateVisible();
}
loadView();
