"""The training transforms that redraw MNIST digits: restroked skeletons, elastic distortions, scan-like."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import torch

from mnist_cnn.classes import NOT_A_DIGIT
from mnist_cnn.learning.data import to_float
from mnist_cnn.learning.redraw import (
    FAR,
    LETTER_FONTS,
    elastic,
    font_letter_skeletons,
    font_letters,
    redraw_batch,
    render_glyph,
    restroke,
    scan_like,
    skeleton_distance,
)
from mnist_cnn.learning.synthetic import BOX, CENTER, LETTER_STROKES, letters_among_negatives, make_negatives
from mnist_cnn.learning.training import TrainConfig, add_generated


def bars(n: int = 4, width: int = 3) -> torch.Tensor:
    """uint8 digits ``(n, 28, 28)``: a vertical bar 20 px high and ``width`` px wide, like a 1."""
    images = torch.zeros((n, 28, 28), dtype=torch.uint8)
    images[:, 4:24, 14 - width // 2 : 14 - width // 2 + width] = 255
    return images


def ink_box(images: torch.Tensor, threshold: float = 0.1) -> tuple[int, int]:
    """Height and width of the ink of one ``(1, 28, 28)`` image."""
    rows = np.flatnonzero((images[0] > threshold).any(dim=1).numpy())
    cols = np.flatnonzero((images[0] > threshold).any(dim=0).numpy())
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    ink = image[0].numpy().astype(np.float64)
    ys, xs = np.mgrid[0:28, 0:28]
    return float((ink * ys).sum() / ink.sum()), float((ink * xs).sum() / ink.sum())


def test_skeleton_distance_is_zero_on_a_one_pixel_skeleton_and_far_for_a_blank_image():
    images = torch.cat([bars(1, width=5), torch.zeros((1, 28, 28), dtype=torch.uint8)])
    distances = skeleton_distance(images)
    assert distances.shape == (2, 28, 28) and distances.dtype == torch.uint8
    skeleton = distances[0] == 0
    assert skeleton[6:21].sum(dim=1).eq(1).all()  # one pixel wide along the bar...
    assert skeleton[6:21].nonzero()[:, 1].unique().tolist() == [14]  # ... down its middle
    assert skeleton.sum() >= 15
    assert distances[0, 14, 10] == 40  # 4 pixels from the skeleton, in tenths
    assert (distances[1] == FAR).all()


def test_restroke_draws_the_skeleton_with_the_pen_width_asked():
    distances = skeleton_distance(bars(3, width=5))
    widths = torch.tensor([1.5, 3.0, 4.5])
    drawn = restroke(distances, widths)
    assert drawn.shape == (3, 1, 28, 28) and drawn.min() >= 0 and drawn.max() <= 1
    # ink across the middle row: the pen's width, scaled as the whole stroke (the skeleton's length plus
    # the pen's round ends) is to fit the 20 px box
    across = drawn[:, 0, 14].sum(dim=1)
    length = (distances[0] == 0).sum().float()
    assert torch.allclose(across, widths * BOX / (length + widths), rtol=0.2), (across, length)
    assert across[0] < across[1] < across[2]
    for image in drawn:  # normalized as MNIST: the ink fits the box, its mass at the centre
        assert max(ink_box(image)) <= BOX + 1
        assert np.allclose(centre_of_mass(image), (CENTER, CENTER), atol=1.0)


def test_elastic_moves_each_image_its_own_way_and_keeps_the_ink():
    images = to_float(torch.cat([bars(4)]))
    generator = torch.Generator().manual_seed(0)
    distorted = elastic(images, generator)
    assert distorted.shape == images.shape and distorted.min() >= 0 and distorted.max() <= 1
    assert not torch.allclose(distorted[0], distorted[1])  # one field per image
    assert not torch.allclose(distorted, images)
    ink_ratio = distorted.sum(dim=(1, 2, 3)) / images.sum(dim=(1, 2, 3))
    assert ((ink_ratio > 0.5) & (ink_ratio < 1.5)).all(), ink_ratio  # moved and bent, not erased or smeared
    still = elastic(images, generator, alpha=0.0)
    assert torch.allclose(still, images, atol=1e-5)  # no displacement, no change


def test_scan_like_is_thicker_and_blurrier_and_still_normalized():
    images = to_float(bars(8, width=2))
    scanned = scan_like(images, torch.Generator().manual_seed(0))
    assert scanned.shape == images.shape and scanned.min() >= 0 and scanned.max() <= 1

    def grey(x: torch.Tensor) -> torch.Tensor:
        return ((x > 0.1) & (x < 0.9)).sum(dim=(1, 2, 3))

    assert (grey(scanned) > grey(images)).all()  # soft edges
    assert ((scanned > 0.1).sum(dim=(1, 2, 3)) > (images > 0.1).sum(dim=(1, 2, 3))).all()  # wider strokes
    for image in scanned:
        assert max(ink_box(image)) <= BOX + 1
        assert np.allclose(centre_of_mass(image), (CENTER, CENTER), atol=1.0)


def test_redraw_batch_changes_the_share_asked_for():
    images = bars(64, width=3)
    x, distances = to_float(images), skeleton_distance(images)
    unchanged = redraw_batch(x, distances, torch.Generator().manual_seed(0), 0.0, 0.0)
    assert torch.equal(unchanged, x)
    restroked = redraw_batch(x, distances, torch.Generator().manual_seed(0), 1.0, 0.0)
    assert all(not torch.allclose(a, b) for a, b in zip(restroked, x, strict=True))
    half = redraw_batch(x, distances, torch.Generator().manual_seed(0), 0.25, 0.25)
    changed = np.mean([not torch.allclose(a, b) for a, b in zip(half, x, strict=True)])
    assert 0.3 < changed < 0.7, changed


def test_font_letters_render_every_letter_in_every_font_fitted_to_the_box():
    skeletons = font_letter_skeletons()
    assert skeletons.shape == (len(LETTER_FONTS) * len(LETTER_STROKES), 28, 28)
    assert (skeletons < FAR).flatten(1).any(dim=1).all()  # no font lacks a letter (a blank glyph)
    glyph = render_glyph(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", "T")
    image = torch.from_numpy(glyph).float().div(255).unsqueeze(0)
    assert max(ink_box(image)) in (20, 21)  # the longer side fills MNIST's 20x20 box
    assert np.allclose(centre_of_mass(image), (CENTER, CENTER), atol=1.0)


def test_font_letters_are_pen_drawn_non_digits_in_range():
    generator = torch.Generator().manual_seed(0)
    letters = font_letters(64, generator, "cpu")
    assert letters.shape == (64, 1, 28, 28) and letters.dtype == torch.float32
    assert letters.min() >= 0 and letters.max() <= 1
    assert (letters.flatten(1).amax(dim=1) > 0.9).all()  # every one has solid ink
    heights_widths = [max(ink_box(image)) for image in letters]
    assert min(heights_widths) >= 17 and max(heights_widths) <= 23  # normalized like MNIST (bent a little)
    again = font_letters(64, torch.Generator().manual_seed(0), "cpu")
    assert torch.equal(letters, again)  # the seed fixes them
    other = font_letters(64, torch.Generator().manual_seed(1), "cpu")
    assert not torch.equal(letters, other)


def test_font_letters_take_the_share_of_generated_letters_asked_for():
    digits, labels = to_float(bars(32)), torch.arange(32) % 10
    n_letters = letters_among_negatives(32)
    for share in (0.5, 1.0):
        cfg = TrainConfig(negatives=1.0, style_strokes=0.0, font_letters=share)
        x, y = add_generated(digits, labels, cfg, 32, torch.Generator().manual_seed(0))
        assert x.shape == (64, 1, 28, 28) and (y[32:] == NOT_A_DIGIT).all()
        n_drawn = round(share * n_letters)
        drawn = font_letters(n_drawn, torch.Generator().manual_seed(0), "cpu")
        # after the template letters come the font letters, then the pairs and scribbles
        assert torch.equal(x[32 + n_letters - n_drawn : 32 + n_letters], drawn)
    plain = TrainConfig(negatives=1.0, style_strokes=0.0)
    x, _ = add_generated(digits, labels, plain, 32, torch.Generator().manual_seed(0))
    assert torch.equal(x[32:], make_negatives(digits, labels, 32, torch.Generator().manual_seed(0)))
