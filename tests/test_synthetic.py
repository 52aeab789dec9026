"""The generated training data: writing styles added to MNIST digits, and generated non-digits."""

import numpy as np
import pytest
import torch

from mnist_cnn.classes import NOT_A_DIGIT
from mnist_cnn.learning.synthetic import (
    LETTER_STROKES,
    add_style_strokes,
    draw_segments,
    letter_shapes,
    make_negatives,
    normalize_like_mnist,
    overlaid_pairs,
    scribbles,
)
from mnist_cnn.learning.training import TrainConfig, held_out_set


def ink_box(image: torch.Tensor, threshold: float = 0.3) -> tuple[int, int]:
    """Height and width of the ink's bounding box in a (1, 28, 28) or (28, 28) image."""
    ink = image.reshape(28, 28) > threshold
    rows, cols = np.flatnonzero(ink.any(1).numpy()), np.flatnonzero(ink.any(0).numpy())
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    ink = image.reshape(28, 28)
    coords = torch.arange(28.0)
    mass = ink.sum()
    return float((ink.sum(1) * coords).sum() / mass), float((ink.sum(0) * coords).sum() / mass)


def assert_normalized_like_mnist(images: torch.Tensor) -> None:
    assert images.shape[1:] == (1, 28, 28) and images.dtype == torch.float32
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    for image in images:
        assert float(image.max()) > 0.9, "blank image"
        assert 18 <= max(ink_box(image)) <= 22
        cy, cx = centre_of_mass(image)
        assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5


def digit_like(label: int, n: int = 8) -> torch.Tensor:
    """Simple MNIST-like digits drawn with strokes: a 0 (an oval), a 1 (a bar) or a 7."""
    g = torch.Generator().manual_seed(label)
    if label == 0:
        t = torch.linspace(0, 2 * np.pi, 25)
        pts = torch.stack([14 + 6 * torch.cos(t), 14 + 9 * torch.sin(t)], 1)
    elif label == 1:
        pts = torch.tensor([[14.0, 4.0], [14.0, 24.0]])
    else:
        pts = torch.tensor([[7.0, 5.0], [20.0, 5.0], [13.0, 24.0]])
    starts, ends = pts[:-1].expand(n, -1, -1), pts[1:].expand(n, -1, -1)
    widths = (2.0 + torch.rand(n, 1, generator=g)).expand(n, len(pts) - 1)
    return normalize_like_mnist(draw_segments(starts, ends, widths))


def test_draw_segments_draws_a_round_pen_line():
    image = draw_segments(torch.tensor([[[4.0, 14.0]]]), torch.tensor([[[24.0, 14.0]]]), torch.tensor([[2.0]]))[0, 0]
    assert image[14, 4:25].min() == 1.0  # the pen's centre line is full ink
    assert image[14, :2].max() == 0 and image[14, 27] == 0  # round caps end near the segment's ends
    assert image[:11].max() == 0 and image[18:].max() == 0  # nothing far from the line
    nothing = draw_segments(torch.tensor([[[4.0, 14.0]]]), torch.tensor([[[24.0, 14.0]]]), torch.tensor([[0.0]]))
    assert nothing.max() == 0  # width 0: a padding segment


def test_normalize_like_mnist_fits_the_box_and_centres_the_mass():
    small = torch.zeros(3, 1, 28, 28)
    small[0, 0, 2:8, 3:6] = 1.0  # a small blob in a corner
    small[1, 0, 20:27, 10:26] = 0.6  # a wide faint bar
    small[2, 0, 5:23, 14] = 1.0  # a thin vertical line
    out = normalize_like_mnist(small)
    assert_normalized_like_mnist(out)
    assert ink_box(out[2])[0] >= 19  # the line keeps its aspect: tall, thin
    blank = torch.zeros(1, 1, 28, 28)
    assert torch.equal(normalize_like_mnist(blank), blank)


@pytest.mark.parametrize("label", [0, 1, 7])
def test_style_strokes_change_only_0s_1s_and_7s(label):
    images = torch.cat([digit_like(label), digit_like(label)])
    labels = torch.tensor([label] * 8 + [4] * 8)  # the same shapes labelled 4 get no stroke
    out = add_style_strokes(images, labels, torch.Generator().manual_seed(0), probability=1.0)
    for i in range(8):
        assert (out[i] - images[i]).abs().max() > 0.5, "a stroke was added"
    assert torch.equal(out[8:], images[8:])
    assert_normalized_like_mnist(out)
    none = add_style_strokes(images, labels, torch.Generator().manual_seed(0), probability=0.0)
    assert torch.equal(none, images)


def test_style_strokes_leave_other_digits_alone():
    images = digit_like(7)  # drawn like a 7 but labelled 4: no style stroke for a 4
    labels = torch.full((8,), 4)
    out = add_style_strokes(images, labels, torch.Generator().manual_seed(0), probability=1.0)
    assert torch.equal(out, images)


def test_style_strokes_make_the_shapes_they_say():
    generator = torch.Generator().manual_seed(1)
    zeros = add_style_strokes(digit_like(0), torch.zeros(8, dtype=torch.long), generator, 1.0)
    # A slash from bottom-left to top-right crosses the oval's empty middle.
    assert (zeros[:, 0, 12:17, 12:17] > 0.5).any(dim=(1, 2)).all()
    ones = add_style_strokes(digit_like(1), torch.ones(8, dtype=torch.long), generator, 1.0)

    # A flag at the top, to the left: near the top the ink reaches further left than the stem does.
    def flag_reach(x):  # how much further left the ink reaches in the top 5 rows than 11-15 rows down
        reach = []
        for image in x[:, 0] > 0.5:
            top = int(np.flatnonzero(image.any(dim=1).numpy())[0])
            cols = [
                np.flatnonzero(image[rows].any(dim=0).numpy())[0]
                for rows in (slice(top, top + 5), slice(top + 11, top + 16))
            ]
            reach.append(cols[1] - cols[0])
        return torch.tensor(reach)

    assert (flag_reach(ones) >= 2).all()
    assert (flag_reach(digit_like(1)) <= 0).all()
    sevens = add_style_strokes(digit_like(7), torch.full((8,), 7), generator, 1.0)

    # A bar across the stem: below the top bar, some row of ink is much wider than the stem.
    def widest_below_top(x):
        widths = []
        for image in x[:, 0] > 0.5:
            rows = np.flatnonzero(image.any(dim=1).numpy())
            widths.append(max(int(image[r].sum()) for r in range(rows[0] + 5, rows[-1] + 1)))
        return torch.tensor(widths)

    assert (widest_below_top(sevens) >= widest_below_top(digit_like(7)) + 3).all()


def test_negatives_are_normalized_non_digits_and_repeatable():
    digits = torch.cat([digit_like(0), digit_like(1), digit_like(7)])
    labels = torch.tensor([0] * 8 + [1] * 8 + [7] * 8)
    negatives = make_negatives(digits, labels, 40, torch.Generator().manual_seed(3))
    assert negatives.shape == (40, 1, 28, 28)
    assert_normalized_like_mnist(negatives)
    again = make_negatives(digits, labels, 40, torch.Generator().manual_seed(3))
    assert torch.equal(negatives, again)
    assert NOT_A_DIGIT == 10


def test_every_letter_template_renders_and_no_digit_like_letter_is_one():
    assert not set(LETTER_STROKES) & set("OoDIilZzSsBbGgq")
    letters = letter_shapes(400, torch.Generator().manual_seed(0), "cpu")
    assert_normalized_like_mnist(letters)
    assert_normalized_like_mnist(scribbles(20, torch.Generator().manual_seed(0), "cpu"))


def test_overlaid_pairs_are_wider_than_one_digit():
    digits = digit_like(1, 16)  # thin bars: two side by side are clearly wider than one
    pairs = overlaid_pairs(digits, torch.Generator().manual_seed(0))
    assert_normalized_like_mnist(pairs)
    assert all(ink_box(p)[1] > ink_box(d)[1] + 4 for p, d in zip(pairs, digits, strict=True))


def test_held_out_set_adds_labelled_negatives_deterministically():
    images = (torch.cat([digit_like(0), digit_like(1)]) * 255).to(torch.uint8)[:, 0]
    labels = torch.tensor([0] * 8 + [1] * 8)
    cfg = TrainConfig(negatives=0.5, style_strokes=0.5, seed=4)
    x, y = held_out_set(images, labels, cfg, with_negatives=True)
    assert x.shape == (24, 1, 28, 28) and (y == NOT_A_DIGIT).sum() == 8 and torch.equal(y[:16], labels)
    x2, _ = held_out_set(images, labels, cfg, with_negatives=True)
    assert torch.equal(x, x2)
