// Put a live answer on the page: label, 28x28 view, status and, for a number, the digits found. An
// answer to a drawing made before the last Clear or Undo is dropped (returning undefined leaves an output
// as it is), so a late answer never brings back ink the visitor removed. Answers arrive in order: the
// pad's event runs one at a time.
(result, pad) => {
  if (!result || !pad || result.seq < pad.floor) {
    return [undefined, undefined, undefined, undefined];
  }
  return [result.label, result.image, result.status, result.boxes ?? null];
}
