// "Explain which digit" changed: the pad explains its drawing again, in the page or on the server (this runs
// in the page only). The pad's value names the pad, in case a page embeds the app twice.
(digit, pad) => {
  window.dispatchEvent(new CustomEvent("pad-explain", { detail: { digit: Number(digit), pad: pad?.pad } }));
  return [];
};
