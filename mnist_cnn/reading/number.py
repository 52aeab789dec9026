"""Read a number written with several digits: split the ink into digits, classify them, left to right.

1. The ink (found as for one digit) is split into connected pieces (8-connected, ``scipy.ndimage``).
2. Pieces whose horizontal spans overlap by half the narrower one's width are one digit: the two strokes
   of a 4 or a 5, the broken loop of a 0. A short piece (the bar of a 5) joins the digit it overlaps.
3. Each digit is normalised with the MNIST preprocessing of a single drawing, and all are classified in
   one batch.
4. A part that is wide, or no digit as a whole, may be two digits that touch: it is cut at one of the
   thinnest columns of its middle when both parts are shaped like digits and read more surely than the
   whole does. The model's "not a digit" output, trained on pairs of overlaid digits, makes the whole
   unsure in that case.
5. An unsure part right beside its neighbour is joined to it when together they read surely (a 4 whose
   stem does not touch the rest).
A digit the model is not sure of is read as "?": the reading never invents a digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from .predict import Prediction, Predictor
from .sketch import InkLevels, SketchError, Steps, preprocess_steps, steps_from_crop

MERGE_OVERLAP = 0.5  # pieces overlapping horizontally by this fraction of the narrower one are one digit
FRAGMENT = 0.4  # a piece less high than this fraction of the tallest is part of a digit, not one
SPECK = 0.01  # pieces with less than this fraction of all the ink are specks, not digits
WIDE = 1.1  # a digit wider than this times its height may be two touching digits (99% of pen digits: < 1.25)
TWO_WIDE = 0.9  # ... and one that reads as no digit, if at least this wide: two digits side by side are
DIGIT_WIDE = 1.6  # no part cut off is wider than this times its height (the widest pen digit: 1.59)
CUT_TRIES = 5  # cuts tried per part, at its thinnest columns
JOIN_GAP = 0.15  # an unsure part this close to its neighbour (times the height) may be a loose stroke of it
JOIN_SURE = 0.9  # ... and is joined to it when together they read at least this surely
MAX_DIGITS = 12  # more pieces than this is no number: the reading says so instead of trying


@dataclass
class DigitReading:
    digit: int | None  # None: the model is not sure (shown as "?")
    confidence: float  # calibrated probability of the best digit
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) in the image's pixels
    prediction: Prediction = field(repr=False)
    steps: Steps = field(repr=False, default_factory=Steps)  # its preprocessing: crop, 20 px, 28x28

    def to_json(self) -> dict[str, Any]:
        return {"digit": self.digit, "confidence": round(self.confidence, 6), "box": list(self.box)}


@dataclass
class NumberReading:
    digits: list[DigitReading]  # left to right
    message: str = ""  # why there are no digits (blank, unreadable, too many pieces)

    @property
    def number(self) -> str | None:
        """The digits read, "?" for each one the model is not sure of; None when there is no ink."""
        if not self.digits:
            return None
        return "".join("?" if d.digit is None else str(d.digit) for d in self.digits)

    def to_json(self) -> dict[str, Any]:
        reading: dict[str, Any] = {"number": self.number, "digits": [d.to_json() for d in self.digits]}
        if self.message:
            reading["note"] = self.message
        return reading


@dataclass
class _Candidate:
    """A part of the ink that may be one digit: its mask inside its box (in working pixels)."""

    top: int
    left: int
    mask: np.ndarray
    steps: Steps | None = field(default=None, repr=False)  # its preprocessing, once computed (``_steps``)

    @property
    def width(self) -> int:
        return self.mask.shape[1]

    @property
    def height(self) -> int:
        return self.mask.shape[0]

    def trimmed(self) -> _Candidate:
        rows, cols = np.flatnonzero(self.mask.any(axis=1)), np.flatnonzero(self.mask.any(axis=0))
        mask = self.mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return _Candidate(self.top + int(rows[0]), self.left + int(cols[0]), mask)

    def splits(self, tries: int = CUT_TRIES) -> list[tuple[_Candidate, _Candidate]]:
        """Left and right parts cut at the thinnest columns of the middle (at most ``tries`` cuts, apart)."""
        ink_per_column = self.mask.sum(axis=0)
        start, stop = round(0.2 * self.width), round(0.8 * self.width)
        cuts: list[int] = []
        for column in start + np.argsort(ink_per_column[start:stop], kind="stable"):
            if all(abs(int(column) - c) >= max(2, self.width // 10) for c in cuts):
                cuts.append(int(column))
            if len(cuts) == tries:
                break
        parts = []
        for cut in cuts:
            left, right = self.mask[:, :cut], self.mask[:, cut:]
            if left.any() and right.any():
                parts.append(
                    (
                        _Candidate(self.top, self.left, left).trimmed(),
                        _Candidate(self.top, self.left + cut, right).trimmed(),
                    )
                )
        return parts


def read_number(predictor: Predictor, image: Any) -> NumberReading:
    """Read every digit in an image, left to right. Raises SketchError for input that is not an image."""
    steps = preprocess_steps(image)
    if steps.levels is None:
        return NumberReading([], "blank image: no ink found")
    return _read_ink(predictor, steps.levels, digit_candidates(steps.levels.is_ink), steps.reduced_by)


def read_digit_or_number(predictor: Predictor, image: Any) -> tuple[Prediction, NumberReading | None]:
    """What the pad shows: one digit read exactly as ``predictor(image)`` reads it, and the number when
    the ink holds more than one digit (else None). The image is decoded and preprocessed once."""
    try:
        steps = preprocess_steps(image)
    except SketchError:
        return predictor(image), None  # the message, worded as for any unreadable image
    if steps.field is None or steps.levels is None:
        return predictor(image), None  # blank
    single = predictor.prediction(steps.field, predictor.probabilities(steps.field))
    candidates = digit_candidates(steps.levels.is_ink)
    if not may_be_number(candidates, single):
        return single, None
    reading = _read_ink(predictor, steps.levels, candidates, steps.reduced_by)
    return single, reading if len(reading.digits) >= 2 else None


def may_be_number(candidates: list[_Candidate], single: Prediction) -> bool:
    """Whether the ink is read as a number: several parts, or one that may be two touching digits (``single``:
    how the whole reads). JavaScript twin: ``mayBeNumber`` in ``mnist_cnn/web/pad/browser/parts.mjs``."""
    return len(candidates) > 1 or (len(candidates) == 1 and _maybe_two(candidates[0], single))


def _read_ink(
    predictor: Predictor,
    levels: InkLevels,
    candidates: list[_Candidate],
    reduced_by: float,
) -> NumberReading:
    if not candidates:
        return NumberReading([], "blank image: no ink found")
    if len(candidates) > MAX_DIGITS:
        return NumberReading([], f"more than {MAX_DIGITS} separate pieces of ink: not a number")
    fields = [(candidate, _field(levels, candidate)) for candidate in candidates]
    fields = [(candidate, field28) for candidate, field28 in fields if field28 is not None]
    probabilities = predictor.probabilities_batch([f for _, f in fields]) if fields else []  # all in one batch
    parts = []
    for (candidate, field28), probs in zip(fields, probabilities, strict=True):
        parts += _read_candidate(predictor, levels, candidate, predictor.prediction(field28, probs))
    parts = _join_loose_strokes(predictor, levels, parts)
    digits = []
    for part, prediction in parts:
        left, top, right, bottom = (
            int(round(v * reduced_by)) for v in (part.left, part.top, part.left + part.width, part.top + part.height)
        )
        box = (left, top, right, bottom)
        digits.append(DigitReading(prediction.digit, prediction.confidence, box, prediction, _steps(levels, part)))
    return NumberReading(digits)


def _maybe_two(candidate: _Candidate, reading: Prediction) -> bool:
    """Whether a part may be two digits that touch: wide, or wide enough and no digit as a whole."""
    wide = candidate.width > WIDE * candidate.height
    return wide or (reading.digit is None and candidate.width > TWO_WIDE * candidate.height)


def _join_loose_strokes(
    predictor: Predictor,
    levels: InkLevels,
    parts: list[tuple[_Candidate, Prediction]],
) -> list[tuple[_Candidate, Prediction]]:
    """A part the model is not sure of, close beside its neighbour, may be a stroke of the same digit (a 4
    whose stem does not touch the rest): the two are joined when together they read surely, and more
    surely than either alone."""
    i = 0
    while i < len(parts) - 1:
        (left, left_reading), (right, right_reading) = parts[i], parts[i + 1]
        height = max(left.height, right.height)
        close = right.left - (left.left + left.width) < JOIN_GAP * height
        if close and (left_reading.digit is None or right_reading.digit is None):
            top, bottom = min(left.top, right.top), max(left.top + left.height, right.top + right.height)
            x0, x1 = min(left.left, right.left), max(left.left + left.width, right.left + right.width)
            mask = np.zeros((bottom - top, x1 - x0), dtype=bool)
            for part in (left, right):
                rows = slice(part.top - top, part.top - top + part.height)
                mask[rows, part.left - x0 : part.left - x0 + part.width] |= part.mask
            joined = _Candidate(top, x0, mask)
            field28 = _field(levels, joined)
            if field28 is not None:
                reading = predictor.prediction(field28, predictor.probabilities(field28))
                alone = max(left_reading.confidence, right_reading.confidence, JOIN_SURE)
                if reading.digit is not None and reading.confidence > alone:
                    parts[i : i + 2] = [(joined, reading)]
                    continue
        i += 1
    return parts


def digit_candidates(is_ink: np.ndarray) -> list[_Candidate]:
    """The ink split into parts that are each one digit (or touching digits), left to right.

    JavaScript twin: ``digitParts in mnist_cnn/web/pad/browser/parts.mjs``.
    """
    labels, count = ndimage.label(is_ink, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    boxes = ndimage.find_objects(labels)
    kept = [i for i in range(count) if sizes[i] >= SPECK * sizes.sum()]
    tallest = max(boxes[i][0].stop - boxes[i][0].start for i in kept)
    # A short piece (the bar of a 5, a loose tail) belongs to the digit it overlaps most, or the nearest.
    is_short = {i: boxes[i][0].stop - boxes[i][0].start < FRAGMENT * tallest for i in kept}
    groups: list[list] = []  # [x0, x1, y0, y1, [labels]], left to right

    def join(group: list, i: int) -> None:
        rows, cols = boxes[i]
        group[0], group[1] = min(group[0], cols.start), max(group[1], cols.stop)
        group[2], group[3] = min(group[2], rows.start), max(group[3], rows.stop)
        group[4].append(i + 1)

    for i in sorted((i for i in kept if not is_short[i]), key=lambda i: boxes[i][1].start):
        x0, x1 = boxes[i][1].start, boxes[i][1].stop
        if groups and min(x1, groups[-1][1]) - max(x0, groups[-1][0]) >= MERGE_OVERLAP * min(
            x1 - x0,
            groups[-1][1] - groups[-1][0],
        ):
            join(groups[-1], i)
        else:
            groups.append([x0, x1, boxes[i][0].start, boxes[i][0].stop, [i + 1]])
    for i in (i for i in kept if is_short[i]):
        x0, x1 = boxes[i][1].start, boxes[i][1].stop
        if not groups:
            groups.append([x0, x1, boxes[i][0].start, boxes[i][0].stop, [i + 1]])
        else:  # most overlap first; without any, the smallest gap
            join(max(groups, key=lambda g: min(x1, g[1]) - max(x0, g[0])), i)
    candidates = []
    for x0, x1, y0, y1, members in groups:
        region = labels[y0:y1, x0:x1]
        mask = region == members[0] if len(members) == 1 else np.isin(region, members)
        candidates.append(_Candidate(y0, x0, mask))
    return candidates


def _aspect(candidate: _Candidate) -> float:
    return candidate.width / candidate.height


def _crop(levels: InkLevels, candidate: _Candidate) -> np.ndarray:
    """The candidate's ink as float intensity in its box (other digits' ink in the box left out)."""
    rows = slice(candidate.top, candidate.top + candidate.height)
    region = levels.ink[rows, candidate.left : candidate.left + candidate.width]
    return levels.intensity(region) * candidate.mask


def _steps(levels: InkLevels, candidate: _Candidate) -> Steps:
    """The candidate's preprocessing (crop, 20 px, 28x28), computed once: it is classified with it and
    shown with it."""
    if candidate.steps is None:
        candidate.steps = steps_from_crop(_crop(levels, candidate), levels)
    return candidate.steps


def _field(levels: InkLevels, candidate: _Candidate) -> np.ndarray | None:
    return _steps(levels, candidate).field


def _read_candidate(
    predictor: Predictor,
    levels: InkLevels,
    whole: _Candidate,
    reading: Prediction,
) -> list[tuple[_Candidate, Prediction]]:
    """One digit (``reading``: how it reads whole); or, when the part is wide or reads as no digit, two
    (or more) digits that touch, if cutting it gives parts that each read as a digit more surely."""
    if not _maybe_two(whole, reading):
        return [(whole, reading)]
    best, best_score = None, reading.confidence
    # both parts must be shaped like digits: cutting a long dash (the bar of a 7 drawn first) gives two dashes
    shaped = [(left, right) for left, right in whole.splits() if max(_aspect(left), _aspect(right)) <= DIGIT_WIDE]
    tries = [(left, right, _field(levels, left), _field(levels, right)) for left, right in shaped]
    tries = [t for t in tries if t[2] is not None and t[3] is not None]
    if tries:
        probs = predictor.probabilities_batch([f for t in tries for f in t[2:]])
        for i, (left, right, left_field, right_field) in enumerate(tries):
            halves = predictor.prediction(left_field, probs[2 * i]), predictor.prediction(right_field, probs[2 * i + 1])
            score = min(h.confidence for h in halves)
            if all(h.digit is not None for h in halves) and score > best_score:
                best, best_score = ((left, halves[0]), (right, halves[1])), score
    if best is None:
        return [(whole, reading)]
    # each part may itself be two touching digits
    return [pair for part, part_reading in best for pair in _read_candidate(predictor, levels, part, part_reading)]


def draw_reading(image: Image.Image, reading: NumberReading, max_side: int = 800) -> Image.Image:
    """The image on white with each digit's box and reading: green when sure, orange for "?". A big
    image is drawn reduced to ``max_side``."""
    scale = min(1.0, max_side / max(image.size))
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    rgba = image.convert("RGBA")
    picture = Image.new("RGB", rgba.size, "white")
    picture.paste(rgba, mask=rgba.getchannel("A"))
    draw = ImageDraw.Draw(picture)
    size = max(12, picture.height // 12)
    font = ImageFont.load_default(size)
    for d in reading.digits:
        colour = (16, 150, 72) if d.digit is not None else (230, 120, 0)
        x0, y0, x1, y1 = (round(v * scale) for v in d.box)
        draw.rectangle((x0 - 2, y0 - 2, x1 + 1, y1 + 1), outline=colour, width=max(2, size // 8))
        text = "?" if d.digit is None else str(d.digit)
        draw.text((x0, max(0, y0 - size - 4)), text, fill=colour, font=font)
    return picture


def number_markdown(reading: NumberReading) -> str:
    """The status line for a number: the number, then each digit and how sure."""
    parts = [
        f"{d.digit} ({100 * d.confidence:.0f}%)" if d.digit is not None else "? (not sure)" for d in reading.digits
    ]
    return f"Number **{reading.number}**: " + ", ".join(parts)


def fields_side_by_side(reading: NumberReading, gap: int = 2) -> np.ndarray:
    """What the model sees of each digit, left to right, as one float image (28 high)."""
    fields = [d.prediction.model_input for d in reading.digits]
    spacer = np.full((28, gap), 0.35, dtype=np.float32)  # a grey line between digits
    return np.concatenate([part for f in fields for part in (f, spacer)][:-1], axis=1)
