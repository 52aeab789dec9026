"""MNIST digits drawn again the way visitors' pens and scanners draw them.

MNIST's strokes come from pens of one kind, scanned once and normalized. What the app reads is drawn
with a round brush of any width on the pad, or scanned at low resolution and enlarged. Three
transforms, each on a whole float batch ``(N, 1, 28, 28)`` in [0, 1] on any device:

- ``restroke``: the digit's skeleton drawn again with a round pen of a random width. The skeleton
  comes from ``skeleton_distance`` (scikit-image, once per training set, on the CPU): for every pixel,
  its distance to the skeleton, from which a pen of any width is one comparison.
- ``elastic``: the elastic distortions of Simard, Steinkraus and Platt (2003), a random smooth
  displacement field per image.
- ``scan_like``: thick, blurred, low-resolution renderings, as a 10-16 px scan enlarged.

And letters for the "not a digit" output, drawn the same way: ``font_letters`` takes the letters of
``synthetic.LETTER_STROKES`` from the text fonts that ship with matplotlib (upright and italic, sans,
serif and typewriter), restrokes their skeletons with a random pen and bends them elastically, so that
they look written rather than printed.

Each image ends normalized as MNIST and ``mnist_cnn.reading.sketch`` do (``normalize_like_mnist``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt
from skimage.morphology import skeletonize
from torchvision.transforms.v2.functional import gaussian_blur

from .synthetic import BOX, FIELD, LETTER_STROKES, normalize_like_mnist, pen_ink, uniform

INK = 0.5  # a pixel at least this bright is ink, for the skeleton
FAR = 255  # the distance stored where an image has no skeleton at all (blank)
PEN_WIDTHS = (1.5, 4.5)  # restroke pen widths in pixels of the 28x28 field (MNIST's strokes are ~2-3 px)
ELASTIC_ALPHA = 34.0  # Simard et al.'s displacement scale (pixels) and smoothing for 28x28 digits
ELASTIC_SIGMA = 4.0
SCAN_SIDES = (10, 16)  # the low resolution a scan-like rendering passes through, in pixels
# matplotlib's bundled text fonts (same files on every machine): upright, slanted and italic designs
LETTER_FONTS = (
    "DejaVuSans",
    "DejaVuSans-Bold",
    "DejaVuSans-Oblique",
    "DejaVuSerif",
    "DejaVuSerif-Italic",
    "DejaVuSerif-BoldItalic",
    "DejaVuSansMono",
    "STIXGeneral",
    "STIXGeneralItalic",
    "STIXGeneralBolIta",
    "cmr10",
    "cmti10",
    "cmss10",
    "cmtt10",
)
LETTER_ALPHA = 16.0  # a gentler elastic bend for font letters: real letters are smooth, not wobbly
GLYPH_CANVAS = 96  # pixels: each glyph is rendered this large, then fitted to the 20x20 box


def skeleton_distance(images: torch.Tensor) -> torch.Tensor:
    """For uint8 digits ``(N, 28, 28)``: each pixel's distance (in pixels) to its digit's one-pixel
    skeleton, as uint8 tenths of a pixel ``(N, 28, 28)`` (``FAR`` for a blank image). On the CPU, once per
    training set: about 0.1 ms an image."""
    out = np.full(images.shape, FAR, dtype=np.uint8)
    for i, image in enumerate(images.cpu().numpy()):
        skeleton = skeletonize(image >= INK * 255)
        if skeleton.any():
            out[i] = np.minimum(distance_transform_edt(~skeleton) * 10, FAR).round().astype(np.uint8)
    return torch.from_numpy(out)


def restroke(distances: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """Skeletons (``skeleton_distance`` of a batch, on its device) drawn with a round pen of ``widths``
    pixels ``(N,)``, anti-aliased as ``synthetic.draw_segments`` draws (``pen_ink``); then normalized."""
    distance = distances.float().div(10).unsqueeze(1)  # (N, 1, 28, 28) in pixels
    return normalize_like_mnist(pen_ink(distance, widths.view(-1, 1, 1, 1)))


def elastic(
    images: torch.Tensor,
    generator: torch.Generator,
    alpha: float = ELASTIC_ALPHA,
    sigma: float = ELASTIC_SIGMA,
) -> torch.Tensor:
    """Simard et al.'s elastic distortion: each image resampled along its own random displacement field,
    uniform noise in [-1, 1] smoothed by a Gaussian of ``sigma`` pixels and scaled by ``alpha`` pixels."""
    n, device = images.shape[0], images.device
    noise = torch.rand((n, 2, FIELD, FIELD), generator=generator, device=device) * 2 - 1
    kernel = 2 * round(3 * sigma) + 1
    displacement = gaussian_blur(noise, [kernel, kernel], [sigma, sigma]) * alpha  # pixels, (N, 2, 28, 28)
    coords = torch.linspace(-1, 1, FIELD, device=device)
    grid_y, grid_x = torch.meshgrid(coords, coords, indexing="ij")
    identity = torch.stack([grid_x, grid_y], dim=-1).expand(n, FIELD, FIELD, 2)
    # a displacement of d pixels is 2 d / 28 in grid_sample's [-1, 1] coordinates
    grid = identity + displacement.permute(0, 2, 3, 1) * (2 / FIELD)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True).clamp(0, 1)


def scan_like(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Digits as a low-resolution scan shows them once enlarged: strokes thickened by up to a pixel,
    reduced to 10-16 px (averaging), enlarged back with bilinear interpolation, and normalized."""
    n, device = images.shape[0], images.device
    thicker = torch.lerp(
        images,
        F.max_pool2d(images, 3, stride=1, padding=1),
        uniform(n, 0.3, 1.0, generator, device).view(n, 1, 1, 1),
    )
    sides = torch.randint(SCAN_SIDES[0], SCAN_SIDES[1] + 1, (n,), generator=generator, device=device)
    out = torch.empty_like(images)
    for side in sides.unique().tolist():  # one resize per resolution drawn
        which = sides == side
        small = F.interpolate(thicker[which], size=(side, side), mode="area")
        out[which] = F.interpolate(small, size=(FIELD, FIELD), mode="bilinear", align_corners=False)
    return normalize_like_mnist(out.clamp(0, 1))


def redraw_batch(
    images: torch.Tensor,
    distances: torch.Tensor | None,
    generator: torch.Generator,
    restroke_share: float,
    scan_share: float,
) -> torch.Tensor:
    """A float batch with ``restroke_share`` of its digits redrawn with a random pen (needs their
    ``distances``) and ``scan_share`` rendered like a scan; the rest unchanged."""
    n, device = images.shape[0], images.device
    choice = torch.rand(n, generator=generator, device=device)
    widths = uniform(n, *PEN_WIDTHS, generator, device)
    out = images
    if restroke_share > 0 and distances is not None:
        drawn = restroke(distances, widths)
        has_skeleton = (distances < FAR).flatten(1).any(dim=1)
        out = torch.where(((choice < restroke_share) & has_skeleton).view(n, 1, 1, 1), drawn, out)
    if scan_share > 0:
        scanned = (choice >= restroke_share) & (choice < restroke_share + scan_share)
        out = torch.where(scanned.view(n, 1, 1, 1), scan_like(images, generator), out)
    return out


def render_glyph(font_path: Path, letter: str) -> np.ndarray:
    """One letter of a TrueType font as a uint8 28x28 image, white on black, its ink fitted to the 20x20
    box (longer side) and centred by its mass, as MNIST and ``mnist_cnn.reading.sketch`` centre digits."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), GLYPH_CANVAS // 2)
    canvas = Image.new("L", (GLYPH_CANVAS, GLYPH_CANVAS))
    ImageDraw.Draw(canvas).text((GLYPH_CANVAS // 2, GLYPH_CANVAS // 2), letter, fill=255, font=font, anchor="mm")
    glyph = canvas.crop(canvas.getbbox())
    scale = BOX / max(glyph.size)
    glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))), Image.LANCZOS)
    field = Image.new("L", (FIELD, FIELD))
    field.paste(glyph, ((FIELD - glyph.width) // 2, (FIELD - glyph.height) // 2))
    centred = normalize_like_mnist(torch.from_numpy(np.asarray(field, dtype=np.float32) / 255).view(1, 1, FIELD, FIELD))
    return (centred[0, 0].numpy() * 255).round().astype(np.uint8)


@lru_cache(maxsize=4)
def font_letter_skeletons(device: str = "cpu") -> torch.Tensor:
    """``skeleton_distance`` of every letter of ``LETTER_STROKES`` in every font of ``LETTER_FONTS``:
    uint8 ``(len(LETTER_FONTS) * len(LETTER_STROKES), 28, 28)`` on ``device``, rendered once per process
    (about 0.4 s) and copied once per device, not once per batch."""
    if device != "cpu":
        return font_letter_skeletons("cpu").to(device)
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    glyphs = [render_glyph(fonts / f"{name}.ttf", letter) for name in LETTER_FONTS for letter in LETTER_STROKES]
    return skeleton_distance(torch.from_numpy(np.stack(glyphs)))


def font_letters(n: int, generator: torch.Generator, device) -> torch.Tensor:
    """``n`` random font letters, each restroked with a random round pen and elastically bent:
    float ``(n, 1, 28, 28)`` in [0, 1] on ``device``, normalized like MNIST."""
    skeletons = font_letter_skeletons(str(device))
    which = torch.randint(len(skeletons), (n,), generator=generator, device=device)
    drawn = restroke(skeletons[which], uniform(n, *PEN_WIDTHS, generator, device))
    return normalize_like_mnist(elastic(drawn, generator, alpha=LETTER_ALPHA))
