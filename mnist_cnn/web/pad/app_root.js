// The app's root URL, which the reader's files are relative to: the <gradio-app> element's src when the
// app is embedded in another page, else the page's own. `element`: a widget's root. Python puts this in
// front of the widgets that load files (pad.js, network.js) as `const appRoot = ...`.
(element) => {
  const embed = element.closest("gradio-app") ?? element.getRootNode().host?.closest?.("gradio-app");
  const root = embed?.getAttribute("src") || window.gradio_config?.root || window.location.href;
  return new URL(root.endsWith("/") ? root : root + "/", window.location.href);
};
