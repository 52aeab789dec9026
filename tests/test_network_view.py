"""The network view's numbers, outside the browser: model.onnx's stage outputs against torch's forward hooks,
the dataset examples against a brute-force search, the stages the server sends (and their decoding in the
page's JavaScript, in Node), and an older bundle's model.onnx exported again with its stages. The view in
Chromium: tests/test_network_view_browser.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import gradio as gr
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from conftest import draw_digit
from mnist_cnn.__main__ import main as cli
from mnist_cnn.bundle import EXAMPLES_IMAGE_FILE, EXAMPLES_JSON_FILE, ONNX_FILE, SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.learning.dataset_examples import EXAMPLES_PER_CHANNEL, strongest_examples, write_dataset_examples
from mnist_cnn.learning.onnx_export import MAX_STAGE_DIFFERENCE, check_onnx, export_checked
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.layers import (
    ENCODED_LEVELS,
    INPUT_STAGE,
    LOGITS,
    WithStages,
    encode_stages,
    stage_activations,
    stage_names,
    stage_shapes,
    stages_of,
)
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.web.pad import png_data_url
from mnist_cnn.web.pad.reader import PadReader, onnx_outputs
from mnist_cnn.web.tabs.draw import DrawHandlers

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["conv1", "pool1", "conv2", "conv3", "pool2", "conv4", "conv5", "pool3"]


def tiny_model(seed: int = 0) -> MnistCNN:
    torch.manual_seed(seed)
    model = MnistCNN(channels=(4, 6, 8), num_classes=11).eval()
    for module in model.modules():  # BatchNorm statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return model


def random_digits(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    images = (rng.random((n, 28, 28)) > 0.8) * rng.integers(0, 256, (n, 28, 28))
    return torch.from_numpy(images.astype(np.uint8))


def without_stages(source: Path, target: Path) -> Path:
    """An ONNX file as bundles had it before the network view: the logits only."""
    graph = onnx.load(str(source))
    kept = [output for output in graph.graph.output if output.name == LOGITS]
    del graph.graph.output[:]
    graph.graph.output.extend(kept)
    onnx.save(graph, str(target))
    return target


def test_stages_are_named_in_order_with_their_shapes():
    model = tiny_model()
    assert stage_names(model) == STAGES
    shapes = stage_shapes(model)
    assert list(shapes) == [INPUT_STAGE, *STAGES, LOGITS]
    assert shapes["input"] == [1, 28, 28] and shapes["conv1"] == [4, 28, 28] and shapes["pool1"] == [4, 14, 14]
    assert shapes["conv3"] == [6, 14, 14] and shapes["pool2"] == [6, 7, 7] and shapes["pool3"] == [8, 3, 3]
    assert shapes["logits"] == [11]
    x = random_digits(5).float().div(255).reshape(5, 1, 28, 28)
    hooked, direct = stage_activations(model, x), stages_of(model, x)
    assert torch.equal(hooked[LOGITS], model(x))
    for name in STAGES:
        assert torch.allclose(hooked[name], direct[name], atol=1e-6), name
        assert (hooked[name] >= 0).all(), name  # after a ReLU, and pools of them


def test_model_onnx_gives_every_stage_as_torch_hooks_see_it(tmp_path):
    model = tiny_model()
    images = random_digits(64)
    check = export_checked(model, tmp_path / ONNX_FILE, images)
    assert check.passed and check.has_stages and check.stages == tuple(STAGES)
    assert check.max_stage_difference <= MAX_STAGE_DIFFERENCE
    session = ort.InferenceSession(str(tmp_path / ONNX_FILE), providers=["CPUExecutionProvider"])
    assert [output.name for output in session.get_outputs()] == [LOGITS, *STAGES]
    x = images[:8].float().div(255).reshape(8, 1, 28, 28)
    expected = stage_activations(model, x)
    got = dict(zip([LOGITS, *STAGES], session.run(None, {"image": x.numpy()}), strict=True))
    for name in [LOGITS, *STAGES]:
        assert got[name].shape == tuple(expected[name].shape), name
        assert np.abs(got[name] - expected[name].numpy()).max() <= 1e-4, name
    assert torch.equal(WithStages(model)(x)[0], model(x))


def test_an_onnx_file_without_the_stages_is_named_as_such(tmp_path):
    model = tiny_model()
    images = random_digits(16)
    export_checked(model, tmp_path / "full.onnx", images)
    old = without_stages(tmp_path / "full.onnx", tmp_path / "old.onnx")
    check = check_onnx(old, model, images)
    assert check.passed and not check.has_stages and check.missing_stages == tuple(STAGES)
    assert "no conv1" in check.summary()
    other = tiny_model(seed=1)  # stages that are not these weights': refused
    assert not check_onnx(tmp_path / "full.onnx", other, images).passed


def test_dataset_examples_are_the_strongest_for_their_channel(tmp_path):
    model = tiny_model()
    images = random_digits(1_100, seed=3)  # three batches: the running top-k across batches
    labels = torch.from_numpy(np.arange(1_100) % 10)
    found = strongest_examples(model, images)
    everything = stage_activations(model, images.float().div(255).reshape(-1, 1, 28, 28))
    for name in STAGES:
        means = everything[name].mean(dim=(2, 3)).T.numpy()  # (channels, images)
        for channel, row in enumerate(means):
            best = np.sort(row)[::-1][:EXAMPLES_PER_CHANNEL]
            picked = row[found[name].indices[channel]]
            np.testing.assert_allclose(picked, best, rtol=1e-5, atol=1e-6, err_msg=f"{name} {channel}")
            np.testing.assert_allclose(found[name].strengths[channel], picked, rtol=1e-5, atol=1e-6)
    write_dataset_examples(tmp_path, model, images, labels)
    data = json.loads((tmp_path / EXAMPLES_JSON_FILE).read_text())
    atlas = np.asarray(Image.open(tmp_path / EXAMPLES_IMAGE_FILE))
    columns = data["atlas"]["columns"]
    assert set(data["stages"]) == set(STAGES) and data["per_channel"] == EXAMPLES_PER_CHANNEL
    assert np.array(data["kernels"]["conv1"]).shape == (4, 3, 3)
    for name in STAGES:
        for channel, slots in enumerate(data["stages"][name]["slots"]):
            for slot, index in zip(slots, found[name].indices[channel], strict=True):
                assert data["test_index"][slot] == index and data["labels"][slot] == index % 10
                row, column = divmod(slot, columns)
                tile = atlas[row * 28 : (row + 1) * 28, column * 28 : (column + 1) * 28]
                assert np.array_equal(tile, images[index].numpy())


def test_the_shipped_bundle_has_its_stages_and_examples_within_2_mb():
    bundle = load_bundle_folder(SHIPPED_BUNDLE)
    assert set(STAGES) <= set(onnx_outputs(SHIPPED_BUNDLE / ONNX_FILE))
    sizes = [(SHIPPED_BUNDLE / name).stat().st_size for name in (EXAMPLES_JSON_FILE, EXAMPLES_IMAGE_FILE)]
    assert sum(sizes) <= 2 * 2**20, sizes
    data = json.loads((SHIPPED_BUNDLE / EXAMPLES_JSON_FILE).read_text())
    channels = stage_shapes(bundle.model)
    assert "10000" in data["source"]
    for name in STAGES:
        assert len(data["stages"][name]["slots"]) == channels[name][0]
        assert all(len(slots) == EXAMPLES_PER_CHANNEL for slots in data["stages"][name]["slots"])
        strengths = np.array(data["stages"][name]["strengths"])
        assert (np.diff(strengths, axis=1) <= 0).all(), name  # strongest first


def decode_in_node(encoded: dict, tmp_path: Path) -> dict:
    node = shutil.which("node")
    assert node, "Node 20 is needed for this test (it runs the network view's JavaScript)"
    path = tmp_path / "encoded.json"
    path.write_text(json.dumps(encoded))
    script = ROOT / "tests" / "js" / "decode_stages.mjs"
    done = subprocess.run([node, str(script), str(path)], capture_output=True, check=True, timeout=60, text=True)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def handlers():
    return DrawHandlers(Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE)), gr.Label(num_top_classes=3))


def test_the_server_sends_the_stages_for_a_final_frame_that_asks(handlers, tmp_path):
    image = png_data_url(draw_digit(7))
    frame = {"seq": 3, "image": image, "final": True, "layers": True}
    answer = handlers.read_drawing(frame)
    layers = answer["layers"]
    assert list(layers["stages"]) == [INPUT_STAGE, *stage_names(handlers.predictor.model)]
    probabilities = np.array(layers["probabilities"])
    assert probabilities.shape == (11,) and abs(probabilities.sum() - 1) < 1e-4 and probabilities.argmax() == 7
    # what the page decodes (network_data.mjs, its twin) is the torch stages within one level
    field = handlers.predictor(draw_digit(7)).model_input  # the same pixels: a PNG is lossless
    truth = stages_of(handlers.predictor.model, torch.from_numpy(field).reshape(1, 1, 28, 28))
    decoded = decode_in_node(layers["stages"], tmp_path)
    for name, stage in decoded.items():
        expected = truth[name][0].numpy()
        assert stage["shape"] == list(expected.shape), name
        step = layers["stages"][name]["scale"] / ENCODED_LEVELS
        assert np.abs(np.array(stage["values"]).reshape(expected.shape) - expected).max() <= step / 2 + 1e-5, name
    # not final, not asked, asked with something else than true, or an empty pad: no stages, or none to send
    assert "layers" not in handlers.read_drawing({"seq": 4, "image": image, "layers": True})
    assert "layers" not in handlers.read_drawing({"seq": 5, "image": image, "final": True})
    assert "layers" not in handlers.read_drawing({"seq": 6, "image": image, "final": True, "layers": "yes"})
    assert handlers.read_drawing({"seq": 7, "image": None, "final": True, "layers": True})["layers"] is None


def test_encoded_stages_fit_in_one_answer():
    model = load_bundle_folder(SHIPPED_BUNDLE).model
    stages = stages_of(model, torch.rand(1, 1, 28, 28))
    encoded = encode_stages(stages)
    assert LOGITS not in encoded
    assert len(json.dumps(encoded)) < 200_000  # about 91,000 values: one byte each, in base64
    zeros = encode_stages({"conv1": torch.zeros(1, 2, 3, 3)})["conv1"]
    assert zeros["scale"] == 1.0 and zeros["shape"] == [2, 3, 3]


def test_an_older_bundle_gets_its_stages_exported_when_the_app_starts(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    without_stages(SHIPPED_BUNDLE / ONNX_FILE, folder / ONNX_FILE)
    for name in (EXAMPLES_JSON_FILE, EXAMPLES_IMAGE_FILE):
        (folder / name).unlink()
    reader = PadReader.from_bundle(load_bundle_folder(folder))
    served = reader.files["model.onnx"].path
    assert served != folder / ONNX_FILE and served.is_file()  # a new copy; the bundle is left as it was
    assert reader.model_stages == [LOGITS, *STAGES]
    assert onnx_outputs(folder / ONNX_FILE) == [LOGITS]
    settings = reader.network_settings()
    assert settings["examples"] is None  # that bundle has none: the view says so when a map is opened
    assert list(settings["shapes"]) == [INPUT_STAGE, *STAGES, LOGITS]
    shipped = PadReader.from_bundle(load_bundle_folder(SHIPPED_BUNDLE)).network_settings()
    assert shipped["examples"]["data"].startswith("pad-reader/dataset_examples.json?v=")


def test_the_examples_command_keeps_existing_examples_unless_told(tmp_path, capsys, mnist_folder):
    folder = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    assert cli(["examples", str(folder)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    before = (folder / EXAMPLES_JSON_FILE).read_bytes()
    root = tmp_path / "root"
    assert cli(["examples", str(folder), "--data-dir", str(mnist_folder), "--data-root", str(root), "--overwrite"]) == 0
    data = json.loads((folder / EXAMPLES_JSON_FILE).read_text())
    assert (folder / EXAMPLES_JSON_FILE).read_bytes() != before and data["per_channel"] == EXAMPLES_PER_CHANNEL
