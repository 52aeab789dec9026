"""Turn a drawing, an upload or a photo of a digit into an MNIST-style 28x28 image.

MNIST's own recipe: white digit on black, cropped to the ink, the longest side scaled to 20 px with
anti-aliasing (aspect ratio kept), placed in a 28x28 field with its centre of mass at the centre.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import torch
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

FIELD = 28
BOX = 20
CENTER = 14.0  # where MNIST's centres of mass sit, in pixel indices (mean over the training set: 14.00, 14.01)
WORK_SIDE = 1024  # huge uploads are reduced to this first: same result, bounded time and memory
# Read from the header, before decoding: a small PNG can decode to gigabytes (Pillow's own guard allows
# 178 megapixels). 40 MP is a 48 MP phone photo's JPEG at 1/2 scale, or a 6300x6300 scan.
MAX_DECODED_PIXELS = 40_000_000
MIN_CONTRAST = 0.1  # ink this faint (on a 0-1 scale) is no drawing: the canvas counts as blank
NOISE_FLOOR = 0.1  # ink weaker than this fraction of the strongest is anti-aliasing haze or JPEG noise


class SketchError(ValueError):
    """The input is not an image that can be read."""


def load_image(image: Any) -> Image.Image | None:
    """A PIL image from a Sketchpad value (dict with ``composite``), a PIL image, an array or a path."""
    if isinstance(image, dict):  # gr.Sketchpad / gr.ImageEditor value
        image = image.get("composite")
    if image is None:
        return None
    if isinstance(image, str | os.PathLike):
        return open_image(image)
    if isinstance(image, bytes):  # an uploaded file's content
        return open_image(io.BytesIO(image))
    if isinstance(image, np.ndarray):
        array = image
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        elif array.dtype != np.uint8:
            array = np.clip(array * (255.0 if array.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        if array.ndim not in (2, 3) or array.size == 0 or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
            raise SketchError(f"Not an image array: shape {image.shape}")
        return Image.fromarray(array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array)
    if isinstance(image, Image.Image):
        return image
    raise SketchError(f"Not an image: {type(image).__name__}")


def open_image(path: str | os.PathLike | IO[bytes]) -> Image.Image:
    """Decode an image file, upright (EXIF orientation applied), refusing sizes that would exhaust memory.

    The size is checked on the header, before decoding."""
    name = os.path.basename(str(path)) if isinstance(path, str | os.PathLike) else "the uploaded file"
    try:
        with Image.open(path) as opened:
            if opened.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale: big photos stay cheap
                opened.draft(opened.mode, (WORK_SIDE, WORK_SIDE))
            width, height = opened.size
            if width * height > MAX_DECODED_PIXELS:
                raise SketchError(too_large(width, height))
            opened.load()
            ImageOps.exif_transpose(opened, in_place=True)  # in place: no copy of an upright image
            return opened
    except SketchError:
        raise
    except Image.DecompressionBombError as err:  # Pillow's own guard fired first, on the header
        raise SketchError(too_large()) from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        # truncated or corrupt data, an empty file, a format Pillow cannot read (SVG, PDF), a bomb
        raise SketchError(f"Not a readable image: {name}") from err


def too_large(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width}x{height} pixels)" if width else ""
    return f"The image is too large{size}: at most {MAX_DECODED_PIXELS // 10**6} megapixels."


def to_paper_grayscale(image: Image.Image) -> np.ndarray:
    """uint8 grayscale, transparent areas composited onto white paper (never black).

    JavaScript twin: ``paperGray in mnist_cnn/web/pad/browser/preprocess.mjs``.
    """
    if max(image.size) > WORK_SIDE:
        image = image.copy()
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    if image.mode.startswith("I") or image.mode == "F":  # 16-bit scans, float images: "L" would clip them
        values = np.asarray(image, dtype=np.float32)
        peak = float(values.max(initial=0))
        full_scale = 65535.0 if image.mode.startswith("I;16") or peak > 255 else 255.0 if peak > 1 else 1.0
        return (np.clip(values / full_scale, 0, 1) * 255).astype(np.uint8)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        if image.mode not in ("RGBA", "LA"):
            image = image.convert("RGBA")
        luminance, alpha = image.convert("L"), image.getchannel("A")
        # On white paper a pixel is 255 - alpha * (255 - luminance): ink is darkness times opacity.
        ink = ImageChops.multiply(ImageChops.invert(luminance), alpha)
        return np.asarray(ImageChops.invert(ink))
    return np.asarray(image.convert("L"))


@dataclass
class InkLevels:
    """Where the ink is in a grayscale image, and how to turn its levels into MNIST-style intensities."""

    ink: np.ndarray  # the image with ink bright (inverted when the paper is light), in the input's dtype
    full_scale: float  # 255 for uint8, 1 for float
    background: float  # the paper's level, 0-1
    peak: float  # the strongest ink, 0-1
    floor: float  # ink weaker than this fraction of the range is haze or noise

    @property
    def is_ink(self) -> np.ndarray:
        return self.ink > self.full_scale * (self.background + self.floor * (self.peak - self.background))

    def intensity(self, region: np.ndarray) -> np.ndarray:
        """A region of ``ink`` as float intensity in [0, 1], white on black, paper and noise at 0.

        JavaScript twin: ``intensityTable in mnist_cnn/web/pad/browser/preprocess.mjs``.
        """
        span = self.peak - self.background
        values = region.astype(np.float32) / self.full_scale
        return np.clip(((values - self.background) / span - self.floor) / (1.0 - self.floor), 0.0, 1.0)


def ink_levels(gray: np.ndarray) -> InkLevels | None:
    """The ink's levels in uint8 (0-255) or float (0-1) grayscale, or None when there is no drawing.

    JavaScript twin: ``inkLevels in mnist_cnn/web/pad/browser/preprocess.mjs``.
    """
    full_scale = 255.0 if gray.dtype == np.uint8 else 1.0
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    # Dark ink on light paper (canvas, scan, photo) is inverted; an MNIST-style image is kept as it is.
    # (Whole-image work stays in the input's dtype: a float copy of a big canvas costs more than the model.)
    inverted = np.median(border) >= full_scale / 2
    ink = full_scale - gray if inverted else gray
    # Paper statistics from a regular subsample (~20k pixels): as good as all of them, and fast.
    step = max(1, round((ink.size / 20_000) ** 0.5))
    sample = ink[::step, ::step].astype(np.float32) / full_scale
    background = float(np.median(sample))  # grey paper in a photo is not ink
    peak = float(ink.max()) / full_scale
    edge = (full_scale - border if inverted else border).astype(np.float32) / full_scale
    paper = float(np.median(edge))
    if background - paper > (peak - paper) / 2:
        # The typical pixel is nearer the ink than the border's paper: more ink than paper inside a paper
        # border (a bold digit cropped tight), so the border is the paper. (Unevenly lit paper stays nearer
        # the paper level and keeps the median.)
        sample, background = edge, paper
    if peak - background < MIN_CONTRAST:
        return None
    # Paper grain and sensor noise: anything within 5 robust standard deviations of the paper is not ink.
    noise = 1.4826 * float(np.median(np.abs(sample - background))) / (peak - background)
    floor = min(0.5, max(NOISE_FLOOR, 5.0 * noise))
    return InkLevels(ink, full_scale, background, peak, floor)


def ink_crop(levels: InkLevels) -> np.ndarray:
    """The drawing's bounding box as float ink intensity in [0, 1] (white on black, like MNIST).

    JavaScript twin: ``inkBox and cropIntensity in mnist_cnn/web/pad/browser/preprocess.mjs``.
    """
    # Find the ink's box on the raw image first, so that the rescaling below touches only the box.
    is_ink = levels.is_ink
    rows, cols = np.flatnonzero(is_ink.any(axis=1)), np.flatnonzero(is_ink.any(axis=0))
    return levels.intensity(levels.ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def center_in_field(digit: np.ndarray) -> np.ndarray:
    """Place a digit (at most 20x20) in a 28x28 field with its centre of mass at the centre.

    JavaScript twin: ``centerInField in mnist_cnn/web/pad/browser/preprocess.mjs``.
    """
    h, w = digit.shape
    ys, xs = np.mgrid[:h, :w]
    mass = digit.sum()
    cy, cx = (ys * digit).sum() / mass, (xs * digit).sum() / mass
    top = int(np.clip(round(CENTER - cy), 0, FIELD - h))
    left = int(np.clip(round(CENTER - cx), 0, FIELD - w))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + h, left : left + w] = digit
    return field


@dataclass
class Steps:
    """Each step of the preprocessing of one drawing (None from the step where there is nothing left)."""

    levels: InkLevels | None = None  # where the ink is
    crop: np.ndarray | None = None  # the ink's box, float intensity in [0, 1], white on black
    scaled: np.ndarray | None = None  # the crop with its longer side scaled to 20 px
    field: np.ndarray | None = None  # 28x28, centred by mass: what the model sees
    reduced_by: float = 1.0  # the image's width over the width it was read at (huge images are reduced)

    @property
    def ink_found(self) -> np.ndarray | None:
        """The whole image as ink intensity (white on black, paper removed)."""
        return None if self.levels is None else self.levels.intensity(self.levels.ink)


def preprocess_steps(image: Any) -> Steps:
    """The MNIST preprocessing of one drawing, step by step. Raises SketchError for input that is not an
    image.

    JavaScript twin: ``preprocess in mnist_cnn/web/pad/browser/preprocess.mjs``.
    """
    pil = load_image(image)
    if pil is None or pil.width == 0 or pil.height == 0:
        return Steps()
    gray = to_paper_grayscale(pil)
    levels = ink_levels(gray)
    if levels is None:
        return Steps()
    steps = steps_from_crop(ink_crop(levels), levels)
    steps.reduced_by = pil.width / gray.shape[1]
    return steps


def steps_from_crop(crop: np.ndarray, levels: InkLevels | None = None) -> Steps:
    """The steps after cropping: scale to 20 px, centre by mass in 28x28."""
    scaled = scale_to_box(crop)
    return Steps(levels, crop, scaled, None if scaled is None else center_in_field(scaled))


def sketch_to_mnist(image: Any) -> np.ndarray | None:
    """The 28x28 float32 image in [0, 1] that the model sees, or None for an empty canvas.

    Raises SketchError for input that is not an image.
    """
    return preprocess_steps(image).field


def scale_to_box(crop: np.ndarray) -> np.ndarray | None:
    """An ink crop (float intensity in [0, 1]) with its longer side scaled to 20 px (anti-aliased) and its
    strongest pixel at 1; None if nothing is left of it.

    JavaScript twin: ``scaleToBox`` in ``mnist_cnn/web/pad/browser/preprocess.mjs`` (with ``resizeAntialiased``,
    torch's anti-aliased resize).
    """
    scale = BOX / max(crop.shape)
    size = [max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))]
    digit = TF.resize(torch.from_numpy(np.ascontiguousarray(crop))[None], size, antialias=True)[0].clamp_(0, 1)
    digit = digit.numpy()
    if digit.max() <= 0:
        return None
    return digit / digit.max()
