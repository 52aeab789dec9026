// Python's and numpy's arithmetic where the reader mirrors them: float32 steps and round().

// float32 rounding, where numpy computes in float32.
export const f32 = Math.fround;

// Python's round(): to the nearest integer, halves to the even one.
export function roundHalfEven(x) {
  const down = Math.floor(x);
  const rest = x - down;
  if (rest > 0.5) return down + 1;
  if (rest < 0.5) return down;
  return down % 2 === 0 ? down : down + 1;
}

// Python's f"{100 * p:.0f}".
export const percent = (p) => String(roundHalfEven(100 * p));
