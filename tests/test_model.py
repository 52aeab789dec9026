import json

import pytest
import torch

from mnist_cnn.model import MNIST_MEAN, MNIST_STD, MnistCNN


def test_logits_shape_for_unit_interval_input():
    model = MnistCNN().eval()
    for n in (1, 7):
        out = model(torch.rand(n, 1, 28, 28))
        assert out.shape == (n, 10) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_normalization_happens_inside_the_model():
    model = MnistCNN().eval()
    x = torch.rand(3, 1, 28, 28)
    manual = model.classifier(model.features((x - MNIST_MEAN) / MNIST_STD))
    torch.testing.assert_close(model(x), manual)
    # the constants are not weights: nothing to load, nothing to forget
    assert "mean" not in model.state_dict() and "std" not in model.state_dict()


def test_wrong_input_shape_fails_loudly():
    with pytest.raises(RuntimeError):
        MnistCNN().eval()(torch.rand(2, 3, 32, 32))


def test_save_and_strict_load_round_trip(tmp_path):
    model = MnistCNN(channels=(8, 16, 24), dropout=0.0).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert json.loads((tmp_path / "config.json").read_text())["channels"] == [8, 16, 24]
    loaded = MnistCNN.from_pretrained(tmp_path, strict=True)
    assert not loaded.training
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_strict_load_rejects_mismatched_weights(tmp_path):
    MnistCNN(channels=(8, 16, 24)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["channels"] = [8, 16, 32]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError):
        MnistCNN.from_pretrained(tmp_path, strict=True)
