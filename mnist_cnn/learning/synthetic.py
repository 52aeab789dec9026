"""Training data the code generates from MNIST: writing styles MNIST lacks, and things that are not digits.

MNIST was written by American census staff and students. Visitors write a slashed zero, a 1 with a
long flag and a foot, a crossed 7; and they draw letters, doodles and several digits at once. The
functions here add those to a batch, on whatever device the batch is on, with no CPU round trip:

- ``add_style_strokes``: a slash through some 0s, a flag (and sometimes a foot) on some 1s, a bar
  across some 7s, drawn with a round pen and labelled with the digit they were made from.
- ``make_negatives``: letter shapes built from pen strokes (only letters that no one writes as a
  digit), two MNIST digits overlaid side by side, and random scribbles; all labelled ``NOT_A_DIGIT``.

Every image ends up normalized as MNIST and ``mnist_cnn.reading.sketch`` do: the ink fits a 20x20 box and
its centre of mass sits at the centre of the 28x28 field.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

FIELD = 28
BOX = 20.0
CENTER = 14.0


def uniform(shape, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device) * (high - low) + low


# --- drawing -------------------------------------------------------------------------------------


def pen_ink(distance: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """Coverage of pixels ``distance`` pixels from a pen's path by a round pen ``widths`` wide (broadcast),
    with one pixel of anti-aliasing at the edge."""
    return (widths / 2 + 0.5 - distance).clamp(0, 1)


def draw_segments(starts: torch.Tensor, ends: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """Render line segments with a round pen: ``(N, K, 2)`` starts and ends as (x, y) pixel indices,
    ``(N, K)`` pen widths in pixels (0 draws nothing). Returns ``(N, 1, 28, 28)`` ink in [0, 1]."""
    coords = torch.arange(FIELD, device=starts.device, dtype=starts.dtype)
    grid = torch.stack(torch.meshgrid(coords, coords, indexing="xy"), dim=-1).view(1, 1, -1, 2)  # (1,1,784,2)
    a, b = starts.unsqueeze(2), ends.unsqueeze(2)  # (N, K, 1, 2)
    ab = b - a
    t = ((grid - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-6)
    nearest = a + t.clamp(0, 1).unsqueeze(-1) * ab
    distance = (grid - nearest).norm(dim=-1)  # (N, K, 784)
    ink = pen_ink(distance, widths.unsqueeze(-1)) * (widths.unsqueeze(-1) > 0)
    return ink.amax(dim=1).view(-1, 1, FIELD, FIELD)


def _ink_span(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last index where each row of an ``(N, 28)`` mask is set, as floats in [0, 27]."""
    coords = torch.arange(FIELD, device=mask.device, dtype=torch.float32)
    first = torch.where(mask, coords, torch.full_like(coords, FIELD)).amin(dim=1).clamp(max=FIELD - 1)
    last = torch.where(mask, coords, torch.full_like(coords, -1)).amax(dim=1).clamp(min=0)
    return first, last


def normalize_like_mnist(images: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Rescale each image's ink to fit a 20x20 box and centre its mass in the 28x28 field.

    One affine resampling per image (batched), the same normalization as ``sketch_to_mnist``.
    Blank images are returned unchanged.
    """
    n = images.shape[0]
    ink = images[:, 0]
    coords = torch.arange(FIELD, device=images.device, dtype=images.dtype)
    rows, cols = (ink > threshold).any(dim=2), (ink > threshold).any(dim=1)  # (N, 28) each

    def extent(mask: torch.Tensor) -> torch.Tensor:
        first, last = _ink_span(mask)
        return (last - first + 1).clamp_min(1)

    scale = BOX / torch.maximum(extent(rows), extent(cols))  # (N,)
    mass = ink.sum(dim=(1, 2)).clamp_min(1e-6)
    cy = (ink.sum(dim=2) * coords).sum(dim=1) / mass
    cx = (ink.sum(dim=1) * coords).sum(dim=1) / mass
    # Output pixel u maps to input pixel c + (u - 14) / scale; in affine_grid's [-1, 1] coordinates:
    inverse = 1.0 / scale
    zeros = torch.zeros_like(scale)
    tx = (cx - 0.5 * inverse) / 14 + 1 / 28 - 1
    ty = (cy - 0.5 * inverse) / 14 + 1 / 28 - 1
    theta = torch.stack([torch.stack([inverse, zeros, tx], 1), torch.stack([zeros, inverse, ty], 1)], 1)
    out = F.grid_sample(
        images,
        F.affine_grid(theta, [n, 1, FIELD, FIELD], align_corners=False),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    blank = ~rows.any(dim=1)
    peak = out.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    out = (out / peak).clamp(0, 1)
    return torch.where(blank.view(n, 1, 1, 1), images, out)


# --- writing styles MNIST lacks ------------------------------------------------------------------


def _ink_profile(images: torch.Tensor, threshold: float = 0.5):
    """Per image: first and last ink rows, and the ink's x centre on those rows and on the middle row."""
    ink = images[:, 0]
    n = ink.shape[0]
    coords = torch.arange(FIELD, device=ink.device, dtype=ink.dtype)
    top, bottom = _ink_span((ink > threshold).any(dim=2))
    left, right = _ink_span((ink > threshold).any(dim=1))

    def x_at(row: torch.Tensor) -> torch.Tensor:
        line = ink[torch.arange(n, device=ink.device), row.long()]  # (N, 28)
        return (line * coords).sum(1) / line.sum(1).clamp_min(1e-6)

    middle = ((top + bottom) / 2).round()
    return top, bottom, left, right, x_at(top), x_at(bottom), x_at(middle), middle


def add_style_strokes(
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    probability: float = 0.5,
) -> torch.Tensor:
    """Add a slash to some 0s, a flag (and sometimes a foot) to some 1s and a bar to some 7s.

    ``images`` is a float batch ``(N, 1, 28, 28)`` of MNIST-normalized digits; labels are unchanged.
    Only the changed images are re-normalized.
    """
    n, device = images.shape[0], images.device

    def u(low: float, high: float) -> torch.Tensor:
        return uniform(n, low, high, generator, device)

    chosen = torch.rand(n, generator=generator, device=device) < probability
    zero, one, seven = chosen & (labels == 0), chosen & (labels == 1), chosen & (labels == 7)
    if not bool((zero | one | seven).any()):
        return images
    top, bottom, left, right, x_top, x_bottom, x_middle, middle = _ink_profile(images)
    height = (bottom - top + 1).clamp_min(1)
    width = u(1.6, 3.0)

    # Slashed zero: a slash through the middle, from steep to near vertical, from just across the
    # oval to far past it ("Ø" and "ϕ").
    slash_angle = u(50, 85) * (math.pi / 180)
    slash_half = height / 2 * u(1.0, 2.3)
    slash_centre = torch.stack([(left + right) / 2 + u(-1.0, 1.0), (top + bottom) / 2 + u(-1.0, 1.0)], 1)
    slash_step = torch.stack([slash_half / torch.tan(slash_angle), -slash_half], 1)
    slash_start, slash_end = slash_centre - slash_step, slash_centre + slash_step
    # European 1: a flag from the top, steeply down and to the left (a 7's bar is flat); a small foot
    # under a few of them (a wide one would make a 2).
    flag_angle = u(30, 65) * (math.pi / 180)
    flag_length = height * u(0.2, 0.45)
    flag_start = torch.stack([x_top, top], 1)
    flag_end = flag_start + torch.stack([-torch.cos(flag_angle), torch.sin(flag_angle)], 1) * flag_length[:, None]
    foot_half = height * u(0.1, 0.2)
    has_foot = one & (torch.rand(n, generator=generator, device=device) < 0.15)
    foot_start = torch.stack([x_bottom - foot_half, bottom + u(-0.5, 0.5)], 1)
    foot_end = torch.stack([x_bottom + foot_half, bottom + u(-0.5, 0.5)], 1)
    # Crossed 7: a short bar through the stem, about half way down.
    bar_y = middle + height * u(-0.05, 0.12)
    bar_half = height * u(0.15, 0.3)
    bar_tilt = u(-1.5, 1.0)
    bar_start = torch.stack([x_middle - bar_half, bar_y - bar_tilt], 1)
    bar_end = torch.stack([x_middle + bar_half, bar_y + bar_tilt], 1)

    starts = torch.where(zero[:, None], slash_start, torch.where(seven[:, None], bar_start, flag_start))
    ends = torch.where(zero[:, None], slash_end, torch.where(seven[:, None], bar_end, flag_end))
    starts = torch.stack([starts, foot_start], 1)
    ends = torch.stack([ends, foot_end], 1)
    widths = torch.stack([width * (zero | one | seven), width * has_foot], 1)
    strokes = draw_segments(starts, ends, widths)
    changed = (zero | one | seven).view(n, 1, 1, 1)
    combined = torch.maximum(images, strokes)
    return torch.where(changed, normalize_like_mnist(combined), images)


# --- things that are not digits ------------------------------------------------------------------


def _arc(cx: float, cy: float, rx: float, ry: float, start_deg: float, end_deg: float, steps: int = 7):
    angles = [math.radians(start_deg + (end_deg - start_deg) * i / steps) for i in range(steps + 1)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# Letters no one writes as a digit, as pen strokes in a unit box (x right, y down; 0-1). Letters
# that are often written like digits (O o D I i l Z z S s B b G g q) are left out on purpose.
LETTER_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.22, 0.6), (0.78, 0.6)]],
    "C": [_arc(0.55, 0.5, 0.45, 0.5, -50, -310)],
    "E": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "F": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "H": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.9, 1.0)], [(0.1, 0.5), (0.9, 0.5)]],
    "J": [[(0.2, 0.0), (0.9, 0.0)], [(0.6, 0.0), *_arc(0.35, 0.75, 0.25, 0.25, 0, 180, 5)]],
    "K": [[(0.1, 0.0), (0.1, 1.0)], [(0.85, 0.0), (0.1, 0.55)], [(0.35, 0.4), (0.9, 1.0)]],
    "L": [[(0.1, 0.0), (0.1, 1.0), (0.8, 1.0)]],
    "M": [[(0.0, 1.0), (0.1, 0.0), (0.5, 0.7), (0.9, 0.0), (1.0, 1.0)]],
    "N": [[(0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0)]],
    "P": [[(0.15, 1.0), (0.15, 0.0), *_arc(0.45, 0.27, 0.4, 0.27, -90, 90, 6), (0.15, 0.54)]],
    "Q": [_arc(0.5, 0.45, 0.45, 0.45, 0, 360, 12), [(0.55, 0.7), (1.0, 1.05)]],
    "R": [[(0.15, 1.0), (0.15, 0.0), *_arc(0.45, 0.25, 0.38, 0.25, -90, 90, 6), (0.15, 0.5), (0.9, 1.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "U": [[(0.1, 0.0), *_arc(0.5, 0.6, 0.4, 0.4, 180, 0, 8)[1:-1], (0.9, 0.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.22, 1.0), (0.5, 0.3), (0.78, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
    "a": [[*_arc(0.45, 0.6, 0.4, 0.4, -20, -340, 10)], [(0.85, 0.25), (0.85, 1.0)]],
    "c": [_arc(0.55, 0.6, 0.45, 0.4, -50, -310)],
    "d": [_arc(0.45, 0.65, 0.4, 0.35, 0, 360, 10), [(0.85, 0.0), (0.85, 1.0)]],
    "e": [[(0.1, 0.6), (0.9, 0.6), *_arc(0.5, 0.6, 0.4, 0.4, 0, -300, 9)[1:]]],
    "f": [[*_arc(0.7, 0.2, 0.25, 0.2, -10, -180, 5), (0.45, 1.0)], [(0.15, 0.45), (0.8, 0.45)]],
    "h": [[(0.1, 0.0), (0.1, 1.0)], [(0.1, 0.6), *_arc(0.5, 0.6, 0.4, 0.25, 180, 360, 5), (0.9, 1.0)]],
    "j": [[(0.6, 0.15), (0.6, 0.17)], [(0.6, 0.35), *_arc(0.35, 0.8, 0.25, 0.2, 0, 180, 5)]],
    "k": [[(0.1, 0.0), (0.1, 1.0)], [(0.8, 0.35), (0.1, 0.7), (0.85, 1.0)]],
    "m": [
        [(0.05, 0.35), (0.05, 1.0)],
        [(0.05, 0.55), *_arc(0.275, 0.55, 0.225, 0.2, 180, 360, 4), (0.5, 1.0)],
        [(0.5, 0.55), *_arc(0.725, 0.55, 0.225, 0.2, 180, 360, 4), (0.95, 1.0)],
    ],
    "n": [[(0.1, 0.3), (0.1, 1.0)], [(0.1, 0.55), *_arc(0.5, 0.55, 0.4, 0.25, 180, 360, 5), (0.9, 1.0)]],
    "p": [[(0.1, 0.0), (0.1, 1.0)], _arc(0.45, 0.3, 0.35, 0.3, 0, 360, 10)],
    "r": [[(0.15, 0.0), (0.15, 1.0)], [(0.15, 0.35), *_arc(0.55, 0.35, 0.4, 0.3, 180, 300, 4)]],
    "t": [[(0.45, 0.0), (0.45, 0.85), (0.75, 1.0)], [(0.05, 0.3), (0.85, 0.3)]],
    "u": [[(0.1, 0.0), *_arc(0.45, 0.6, 0.35, 0.4, 180, 0, 6)[1:-1], (0.8, 0.0), (0.8, 1.0)]],
    "v": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "w": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "x": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "y": [[(0.0, 0.0), (0.5, 0.55)], [(1.0, 0.0), (0.3, 1.0)]],
}
LETTER_WIDTH = {"M": 1.2, "W": 1.3, "m": 1.4, "w": 1.3, "H": 1.0, "I": 0.3}  # width / height; 0.85 otherwise


def _letter_segments(max_segments: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every letter as padded segment lists: starts, ends ``(L, K, 2)`` in its unit box, and a mask."""
    starts = torch.zeros(len(LETTER_STROKES), max_segments, 2)
    ends = torch.zeros_like(starts)
    mask = torch.zeros(len(LETTER_STROKES), max_segments, dtype=torch.bool)
    for i, strokes in enumerate(LETTER_STROKES.values()):
        pairs = [(p, q) for stroke in strokes for p, q in zip(stroke, stroke[1:], strict=False)]
        for k, (p, q) in enumerate(pairs[:max_segments]):
            starts[i, k], ends[i, k], mask[i, k] = torch.tensor(p), torch.tensor(q), True
    return starts, ends, mask


MAX_LETTER_SEGMENTS = 24
_LETTERS = _letter_segments(MAX_LETTER_SEGMENTS)
_LETTER_ASPECT = torch.tensor([LETTER_WIDTH.get(name, 0.85) for name in LETTER_STROKES])


def letter_shapes(n: int, generator: torch.Generator, device) -> torch.Tensor:
    """``n`` letters drawn from the templates with jittered points, slant, size and pen width."""
    starts, ends, mask = (t.to(device) for t in _LETTERS)
    which = torch.randint(len(LETTER_STROKES), (n,), generator=generator, device=device)
    starts, ends, mask = starts[which], ends[which], mask[which]
    # Wobble each segment end a little (a hand is not a ruler); shared ends move independently, as
    # pen lifts and overshoots make them do.
    starts = starts + 0.07 * torch.randn(starts.shape, generator=generator, device=device)
    ends = ends + 0.07 * torch.randn(ends.shape, generator=generator, device=device)
    aspect = _LETTER_ASPECT.to(device)[which] * uniform(n, 0.7, 1.3, generator, device)
    slant = uniform(n, -0.35, 0.35, generator, device)
    height = 20.0

    def place(points: torch.Tensor) -> torch.Tensor:
        x = (points[..., 0] - 0.5) * aspect[:, None] * height + slant[:, None] * (0.5 - points[..., 1]) * height
        y = (points[..., 1] - 0.5) * height
        return torch.stack([x + CENTER, y + CENTER], -1)

    widths = uniform((n, 1), 1.2, 3.2, generator, device) * mask
    return normalize_like_mnist(draw_segments(place(starts), place(ends), widths))


def scribbles(n: int, generator: torch.Generator, device, points: int = 9) -> torch.Tensor:
    """Random pen doodles: polylines through ``points`` random points with sharp turns."""
    pts = uniform((n, points, 2), 3.0, 25.0, generator, device)
    widths = uniform((n, 1), 1.2, 3.2, generator, device).expand(n, points - 1)
    return normalize_like_mnist(draw_segments(pts[:, :-1], pts[:, 1:], widths))


def overlaid_pairs(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Two different digits of the batch drawn over each other, shifted sideways: a number, not a digit."""
    n, device = images.shape[0], images.device
    partner = torch.randperm(n, generator=generator, device=device)
    shift = uniform(n, 5.0, 11.0, generator, device) * torch.where(
        torch.rand(n, generator=generator, device=device) < 0.5,
        -1.0,
        1.0,
    )
    zeros, ones = torch.zeros(n, device=device), torch.ones(n, device=device)
    theta = torch.stack([torch.stack([ones, zeros, shift / 14], 1), torch.stack([zeros, ones, zeros], 1)], 1)
    moved = F.grid_sample(
        images[partner],
        F.affine_grid(theta, list(images.shape), align_corners=False),
        align_corners=False,
    )
    return normalize_like_mnist(torch.maximum(images, moved))


def letters_among_negatives(n: int) -> int:
    """How many of ``n`` generated non-digits are letters."""
    return 5 * n // 8


def make_negatives(
    images: torch.Tensor,
    labels: torch.Tensor,
    n: int,
    generator: torch.Generator,
    drawn_letters: torch.Tensor | None = None,
) -> torch.Tensor:
    """``n`` non-digits: 5/8 letters, a quarter overlaid pairs of the given digits, 1/8 scribbles.

    ``drawn_letters`` (such as ``redraw.font_letters``), if given, stand in for as many of the template
    letters. 1s are kept out of the pairs: a 1 across another digit is how people write a slashed 0 or
    a crossed 7.
    """
    device = images.device
    n_letters, n_pairs = letters_among_negatives(n), n // 4
    n_drawn = 0 if drawn_letters is None else min(len(drawn_letters), n_letters)
    candidates = torch.nonzero((labels != 1) & (labels < 10)).flatten()  # digits only: a batch may hold real non-digits
    order = torch.randperm(len(candidates), generator=generator, device=device)
    pick = candidates[order[:n_pairs]]
    parts = [
        letter_shapes(n_letters - n_drawn, generator, device) if n_letters > n_drawn else None,
        drawn_letters[:n_drawn] if n_drawn else None,
        overlaid_pairs(images[pick], generator) if len(pick) else None,
        scribbles(n - n_letters - len(pick), generator, device),
    ]
    return torch.cat([part for part in parts if part is not None])
