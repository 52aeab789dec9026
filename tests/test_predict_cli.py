"""``python -m mnist_cnn predict IMAGE...``: one JSON object per line, errors per file."""

import json
import subprocess
import sys

from PIL import Image

from conftest import ROOT, draw_digit
from mnist_cnn.bundle import SHIPPED_BUNDLE


def test_predict_cli(tmp_path):
    seven, one, blank, text = (tmp_path / name for name in ("seven.png", "one.jpg", "blank.png", "notes.txt"))
    draw_digit(7).save(seven)
    draw_digit(1, transparent=False).convert("RGB").save(one)
    Image.new("RGB", (300, 300), "white").save(blank)
    text.write_text("not an image")
    paths = [seven, text, one, blank]
    result = subprocess.run(
        [sys.executable, "-m", "mnist_cnn", "predict", *map(str, paths), "--model", str(SHIPPED_BUNDLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(p) for p in paths]
    assert lines[0]["digit"] == 7 and lines[2]["digit"] == 1
    assert all(len(line["probabilities"]) == 10 for line in lines)
    assert abs(sum(lines[0]["probabilities"]) + lines[0]["not_a_digit"] - 1) < 1e-4
    assert lines[0]["confidence"] == max(lines[0]["probabilities"])
    assert "Not a readable image" in lines[1]["error"] and lines[1]["digit"] is None
    assert lines[3]["digit"] is None and "error" not in lines[3] and "blank" in lines[3]["note"]


def test_onnx_command_adds_a_checked_model_onnx_and_keeps_an_existing_one(tmp_path):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, bundle, ignore=shutil.ignore_patterns("model.onnx"))
    command = [sys.executable, "-m", "mnist_cnn", "onnx", str(bundle)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "identical predictions on 1022 images" in result.stdout
    written = (bundle / "model.onnx").read_bytes()
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already exists; pass --overwrite" in again.stderr
    assert (bundle / "model.onnx").read_bytes() == written
