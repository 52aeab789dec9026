"""The model's outputs, defined once: the ten digits, then "not a digit".

Every other module, and the browser (through the pad reader's settings, ``mnist_cnn.web.pad.reader``),
takes the layout from here. A bundle trained before "not a digit" existed has only the ten digits: code
reading probabilities treats every output from ``NUM_DIGITS`` on as "not a digit", so both read alike.
"""

from __future__ import annotations

NUM_DIGITS = 10  # outputs 0-9 are the digits 0-9
NOT_A_DIGIT = 10  # the 11th output: letters, symbols, scribbles (generated and real), touching pairs
NUM_CLASSES = 11  # the model train.py builds
NOT_A_DIGIT_LABEL = "not a digit"
DIGIT_LABELS = tuple(str(digit) for digit in range(NUM_DIGITS))
CLASS_LABELS = (*DIGIT_LABELS, NOT_A_DIGIT_LABEL)  # one per output, as people read them


def class_layout() -> dict[str, object]:
    """The layout as the browser's reader gets it (``settings.classes``)."""
    return {"digits": NUM_DIGITS, "not_a_digit": NOT_A_DIGIT, "labels": list(CLASS_LABELS)}
