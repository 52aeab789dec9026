"""Sketch preprocessing: drawings, uploads and photos become MNIST-style 28x28 images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageDraw

from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.classes import NOT_A_DIGIT_LABEL
from mnist_cnn.reading.predict import EMPTY_MESSAGE, UNSURE_MESSAGE, AnswerRule, Predictor
from mnist_cnn.reading.sketch import SketchError, sketch_to_mnist


def canvas(size=(400, 400), transparent=False) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGBA", size, (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    return image, ImageDraw.Draw(image)


def check_field(field: np.ndarray) -> None:
    assert field.shape == (28, 28) and field.dtype == np.float32
    assert field.min() >= 0.0 and field.max() <= 1.0 and field.max() > 0.5


def ink_box(field: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(field.any(1)), np.flatnonzero(field.any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def center_of_mass(field: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[:28, :28]
    return (ys * field).sum() / field.sum(), (xs * field).sum() / field.sum()


@pytest.mark.parametrize("seed", range(12))
def test_random_strokes_anywhere_any_size_any_width(seed):
    rng = np.random.default_rng(seed)
    side = int(rng.integers(100, 900))
    image, draw = canvas((side, side), transparent=bool(seed % 2))
    size = rng.uniform(0.1, 0.9) * side
    x0, y0 = rng.uniform(0, side - size, 2)
    points = [(x0 + rng.uniform(0, size), y0 + rng.uniform(0, size)) for _ in range(5)]
    draw.line(points, fill=(0, 0, 0, 255), width=max(1, int(rng.uniform(0.01, 0.12) * side)), joint="curve")
    field = sketch_to_mnist(image)
    check_field(field)
    assert max(ink_box(field)) in (19, 20, 21)  # longest side scaled to 20 px (anti-aliasing may add one)
    cy, cx = center_of_mass(field)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0


def test_transparent_background_is_paper_not_ink():
    opaque, draw_o = canvas()
    transparent, draw_t = canvas(transparent=True)
    for draw in (draw_o, draw_t):
        draw.line([(150, 100), (250, 300)], fill=(0, 0, 0, 255), width=20)
    np.testing.assert_allclose(sketch_to_mnist(transparent), sketch_to_mnist(opaque), atol=1e-6)


def test_dark_ink_photo_on_grey_paper():
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(170, 12, (600, 480)), 0, 255)  # grey, noisy paper
    image = Image.fromarray(paper.astype(np.uint8)).convert("RGB")
    ImageDraw.Draw(image).line([(240, 100), (240, 500)], fill=(40, 40, 60), width=30)
    field = sketch_to_mnist(image)
    check_field(field)
    height, width = ink_box(field)
    assert height == 20 and width <= 6  # a clean vertical bar: paper texture did not count as ink


def test_white_on_black_input_is_kept():
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[4:24, 12:16] = 255
    field = sketch_to_mnist(digit)
    check_field(field)
    assert field[14, 14] > 0.9 and field[0, 0] == 0


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGBA", (400, 400), (0, 0, 0, 0)),  # empty transparent canvas
        Image.new("RGB", (400, 400), "white"),
        Image.new("L", (1, 1), 255),
        Image.new("L", (1, 1), 0),
        np.zeros((0, 0), dtype=np.uint8),
        None,
        {"background": None, "layers": [], "composite": None},
    ],
    ids=["transparent", "white", "1x1-white", "1x1-black", "0x0", "none", "composite-none"],
)
def test_blank_inputs_give_the_empty_state(image):
    if isinstance(image, np.ndarray) and image.size == 0:
        with pytest.raises(SketchError):
            sketch_to_mnist(image)
        return
    assert sketch_to_mnist(image) is None


def seven_field() -> np.ndarray:
    """The reference: a 7 drawn black on a transparent canvas."""
    return sketch_to_mnist(seven())


def seven(mode: str = "RGBA") -> Image.Image:
    image, draw = canvas(transparent=True)
    draw.line([(120, 90), (280, 90), (190, 330)], fill=(0, 0, 0, 255), width=24, joint="curve")
    return image if mode == "RGBA" else image.convert(mode)


def test_grey_with_alpha_la_is_read_like_rgba():
    la = seven().convert("LA")
    assert la.mode == "LA" and la.getpixel((0, 0))[1] == 0  # transparent paper, black luminance under it
    np.testing.assert_allclose(sketch_to_mnist(la), seven_field(), atol=1e-6)


def test_palette_with_a_transparent_index_is_paper(tmp_path):
    palette = seven().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    transparent_index = int(np.asarray(palette)[0, 0])
    path = tmp_path / "seven.png"
    palette.save(path, transparency=transparent_index)
    reopened = Image.open(path)
    assert reopened.mode == "P" and "transparency" in reopened.info
    field = sketch_to_mnist(str(path))
    check_field(field)
    assert np.abs(field - seven_field()).mean() < 0.02


def test_exif_rotated_photo_is_read_upright(tmp_path):
    """A camera stores the sensor's rows and an EXIF orientation tag; the image is read as displayed."""
    upright = seven("RGB")
    white = Image.new("RGB", upright.size, "white")
    white.paste(upright, mask=seven().getchannel("A"))
    stored = white.rotate(90, expand=True)  # as the sensor recorded it
    exif = stored.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "photo.jpg"
    stored.save(path, quality=95, exif=exif)
    field = sketch_to_mnist(str(path))
    check_field(field)
    assert np.abs(field - seven_field()).mean() < 0.03
    sideways = sketch_to_mnist(white.rotate(90, expand=True))
    assert np.abs(sideways - seven_field()).mean() > 0.05  # without the tag it would be read on its side


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays_in_0_to_255_are_read_like_uint8(dtype):
    gray = np.asarray(seven("RGB").convert("L"))
    paper = np.where(np.asarray(seven().getchannel("A")) > 0, gray, 255).astype(np.uint8)
    np.testing.assert_allclose(sketch_to_mnist(paper.astype(dtype)), sketch_to_mnist(paper), atol=1e-6)
    np.testing.assert_allclose(sketch_to_mnist(paper.astype(dtype) / 255), sketch_to_mnist(paper), atol=1e-2)


def test_more_ink_than_paper_inside_a_paper_border_is_not_blank():
    """A bold stroke cropped tight covers most of the image; the paper is only its border (the property
    test below found this read as blank, when the paper level came from the whole image's median)."""
    image, draw = canvas((120, 160))
    draw.line([(60, 10), (60, 150)], fill=(0, 0, 0, 255), width=90)
    assert (np.asarray(image.convert("L")) < 128).mean() > 0.6
    field = sketch_to_mnist(image)
    check_field(field)
    assert ink_box(field)[0] == 20


def test_single_dot():
    image, draw = canvas()
    draw.point((123, 321), fill=(0, 0, 0, 255))
    field = sketch_to_mnist(image)
    check_field(field)


def test_huge_image_is_read_right():
    """A 16-megapixel photo-sized canvas (its speed is measured by benchmarks/app_latency.py, not here)."""
    image, draw = canvas((4000, 4000))
    draw.line([(2000, 500), (2000, 3500)], fill=(0, 0, 0, 255), width=200)
    field = sketch_to_mnist(image)
    check_field(field)
    assert ink_box(field)[0] == 20


def test_non_image_file_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(SketchError, match="Not a readable image: notes.txt"):
        sketch_to_mnist(str(path))
    prediction = Predictor(torch.nn.Identity())(str(path))
    assert prediction.digit is None and "Not a readable image" in prediction.message


SHAPES = st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 3, 4]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        arrays(np.uint8, SHAPES, elements=st.integers(0, 255)),
        arrays(np.float32, SHAPES, elements=st.floats(0, 1, width=32)),
        arrays(np.bool_, SHAPES),
    ),
    st.booleans(),
)
def test_any_image_array_gives_a_field_or_blank(array, two_dimensional):
    """Every generated array is a valid image (2-D, or 3-D with 1, 3 or 4 channels; uint8, float in 0-1 or
    bool), so none may raise. A uniform one is blank paper: None. Random noise may also be read as paper
    (little contrast against its median), so other arrays give None or a valid 28x28 field."""
    image = array[:, :, 0] if two_dimensional or array.shape[2] == 1 else array
    field = sketch_to_mnist(image)  # no SketchError: would fail the test
    if (array == array.flat[0]).all():
        assert field is None
    if field is not None:
        assert field.shape == (28, 28) and field.dtype == np.float32
        assert np.isfinite(field).all() and field.min() >= 0 and field.max() == pytest.approx(1.0, abs=0.02)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(20, 300), st.integers(20, 300), st.integers(180, 255), st.integers(0, 80), st.data())
def test_ink_on_paper_is_always_found(height, width, paper, ink, data):
    """Uniform light paper with one dark stroke: never blank, the stroke scaled to 20 px and centred."""
    gray = np.full((height, width), paper, dtype=np.uint8)
    y0 = data.draw(st.integers(0, height - 1))
    x0 = data.draw(st.integers(0, width - 1))
    y1 = data.draw(st.integers(y0, min(height - 1, y0 + 60)))
    x1 = data.draw(st.integers(x0, min(width - 1, x0 + 60)))
    gray[y0 : y1 + 1, x0 : x1 + 1] = ink
    field = sketch_to_mnist(gray)
    check_field(field)
    assert max(ink_box(field)) in (19, 20, 21)
    cy, cx = center_of_mass(field)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0


def redraw_as_canvas(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """An MNIST digit as a person's drawing: black on white (or transparent), bigger, anywhere."""
    scale = rng.uniform(4, 14)
    side = int(28 * scale)
    big = Image.fromarray(255 - digit).resize((side, side), Image.Resampling.BILINEAR)
    board = int(rng.integers(side + 1, max(side + 2, 900)))
    transparent = rng.random() < 0.5
    image = Image.new("RGBA", (board, board), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    ink = Image.new("RGBA", big.size, (0, 0, 0, 255))
    ink.putalpha(Image.fromarray(255 - np.asarray(big)))  # ink where the digit is dark
    x, y = rng.integers(0, board - side, 2)
    image.alpha_composite(ink, (int(x), int(y)))
    return image


def test_redrawn_mnist_digits_are_read_as_well_as_the_originals(real_mnist):
    from mnist_cnn.learning.data import to_float

    data = real_mnist
    model = load_bundle_folder(SHIPPED_BUNDLE).model
    rng = np.random.default_rng(0)
    index = rng.choice(len(data.test_labels), size=1000, replace=False)
    images, labels = data.test_images[index], data.test_labels[index]
    with torch.no_grad():
        original = (model(to_float(images))[:, :10].argmax(1) == labels).float().mean().item()
        fields = np.stack([sketch_to_mnist(redraw_as_canvas(img.numpy(), rng)) for img in images])
        redrawn = (model(torch.from_numpy(fields)[:, None])[:, :10].argmax(1) == labels).float().mean().item()
    print(f"original {100 * original:.2f}%, redrawn {100 * redrawn:.2f}%")
    # Within a point: since the model learned the European 1 (a flag on a stem), a few thin redrawn 7s
    # and 9s read as 1 (99.3% against 99.8% for the shipped model; the earlier 10-output model lost 0.2).
    assert redrawn >= original - 0.01


def test_predictor_states():
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    empty = predictor({"composite": None})
    assert empty.digit is None and empty.message == EMPTY_MESSAGE and empty.probabilities == [0.0] * 10
    image, draw = canvas()
    draw.line([(200, 60), (200, 340)], fill=(0, 0, 0, 255), width=22)
    one = predictor(image)
    assert one.digit == 1 and one.confidence > 0.5 and one.model_input.shape == (28, 28)
    assert abs(sum(one.probabilities) + one.not_a_digit - 1) < 1e-5
    assert set(one.label_confidences()) == {str(d) for d in range(10)} | {NOT_A_DIGIT_LABEL}
    image, draw = canvas()
    for i in range(12):  # a hatched scribble is no digit
        draw.line([(40, 40 + 28 * i), (360, 60 + 26 * i)], fill=(0, 0, 0, 255), width=8)
        draw.line([(40 + 28 * i, 40), (60 + 26 * i, 360)], fill=(0, 0, 0, 255), width=8)
    hatched = predictor(image)
    assert hatched.digit is None and hatched.message == UNSURE_MESSAGE and hatched.model_input is not None
    assert hatched.not_a_digit > 0.9  # the non-digit side says so, not a hesitation between digits
    assert "not sure" in hatched.status_markdown().lower() and "best guess" in hatched.status_markdown()


def test_a_1_growing_into_a_7_is_named_with_its_runner_up_under_the_shipped_rule():
    """A 1 whose top bar grows into a 7's: sure 1s, then a stretch where the model hesitates between 1 and 7
    and the app names both, most likely first ("**1**, or maybe 7"), then sure 7s. The rule is the shipped
    one (calibration.json): a hesitation between two digits is still a digit, never "not sure"."""
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    rule = AnswerRule.from_calibration(json.loads((SHIPPED_BUNDLE / "calibration.json").read_text()))
    assert predictor.rule == rule and rule.alternative_below > 0
    answers = []
    for bar in range(0, 200, 2):
        image, draw = canvas()
        draw.line([(200 - bar, 70), (200, 70), (200, 330)], fill=(0, 0, 0, 255), width=24, joint="curve")
        answer = predictor(image)
        assert (answer.digit, answer.alternative) == rule.answer(np.array([*answer.probabilities, answer.not_a_digit]))
        answers.append(answer)
    assert all(a.digit == 1 and a.alternative is None for a in answers[:10])
    assert all(a.digit == 7 and a.alternative is None for a in answers[-30:])
    assert all(a.digit is not None for a in answers), "a digit between a 1 and a 7 was called no digit"
    hesitant = [a for a in answers if a.alternative is not None]
    assert hesitant, "the model never hesitated between 1 and 7"
    assert {hesitant[0].digit, hesitant[-1].digit} == {1, 7}  # the lead changes hands along the way
    for answer in hesitant:
        assert {answer.digit, answer.alternative} == {1, 7} and answer.confidence < rule.alternative_below
        assert f"**{answer.digit}**, or maybe {answer.alternative} (" in answer.status_markdown()
    assert len(hesitant) < 15  # hesitation is the exception: a stretch, not most of the morph


def test_shown_confidence_follows_the_stored_temperature(tmp_path):
    """calibration.json's temperature is what turns logits into the confidence shown."""
    image, draw = canvas()
    draw.line([(120, 80), (280, 80), (180, 340)], fill=(0, 0, 0, 255), width=20)  # a 7
    field = sketch_to_mnist(image)
    logits = load_model()(torch.from_numpy(field)[None, None]).detach()
    shown = {}
    for temperature in (0.5, 1.0, 4.0):
        folder = tmp_path / str(temperature)
        folder.mkdir()
        for name in ("model.safetensors", "config.json"):
            shutil.copy(SHIPPED_BUNDLE / name, folder / name)
        (folder / "calibration.json").write_text(json.dumps({"temperature": temperature, "abstain_below": 0.0}))
        result = Predictor.from_bundle(load_bundle_folder(folder))(image)
        expected = (logits / temperature).softmax(1)[0]
        assert result.digit == 7
        assert result.confidence == pytest.approx(float(expected[7]), abs=1e-5)
        shown[temperature] = result.confidence
    assert shown[0.5] > shown[1.0] > shown[4.0]
    (folder / "calibration.json").write_text('{"temperature": -1}')
    assert load_bundle_folder(folder).calibration is None  # refused with a warning: the raw softmax is shown


def load_model():
    from mnist_cnn.bundle import load_bundle_folder

    return load_bundle_folder(SHIPPED_BUNDLE).model
