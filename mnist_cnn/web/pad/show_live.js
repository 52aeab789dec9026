// Put the in-browser reading on the page while the pen moves (this runs in the page only: no request is
// sent). What has not changed since the last reading comes as undefined and is left as it is. Several
// digits are not read one by one while drawn: the server reads the number on pen-up, and the boxes of an
// earlier number are hidden meanwhile.
(pad) => {
  const live = pad?.live;
  if (!live) return [undefined, undefined, undefined, undefined];
  return [live.label, live.image, live.status, live.boxes];
};
