// Put what the browser made on the page (this runs in the page only: no request is sent): while the pen
// moves, its reading; on pen-up, Undo and Clear, its final answer (a digit, or a number with its digits'
// boxes); then "why" (the overlay and its line). What has not changed comes as undefined and is left as
// it is.
(pad) => {
  const live = pad?.live;
  if (!live) return [undefined, undefined, undefined, undefined, undefined, undefined];
  return [live.label, live.image, live.status, live.boxes, live.why_image, live.why_text];
};
