// Put the server's answer on the page: label, 28x28 view, status and, for a number, the digits found. An
// answer to a drawing made before the last Clear or Undo (or, when the browser reads, before the stroke
// being drawn) is dropped (returning undefined leaves an output as it is), so a late answer never brings
// back ink the visitor removed. Answers arrive in order: the pad's event runs one at a time. The pad
// counts the answers it shows (data-answers): it is told through a "pad-answer" event, which also carries
// the network view's stages when the server sent them (an answer to a final frame).
(result, pad) => {
  if (!result || !pad || result.seq < pad.floor) {
    return [undefined, undefined, undefined, undefined];
  }
  const detail = { pad: pad.pad, seq: result.seq, layers: result.layers };
  window.dispatchEvent(new CustomEvent("pad-answer", { detail }));
  return [result.label, result.image, result.status, result.boxes ?? null];
};
