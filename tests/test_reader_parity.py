"""The pad's in-browser reader against the server, in Node: no browser, every dev drawing.

``mnist_cnn/web/pad/browser/`` mirrors ``mnist_cnn.reading`` by hand (each function names its twin). Node
runs those modules (``tests/js/read_drawings.mjs``) on the 5,000 drawings of ``pen-dev`` (digits and
letters) and ``scan-dev``, decoded here, with the Python model's probabilities for each; this file compares
what they make of each drawing with the Python: the 28x28 field, the ink's parts (``digit_candidates``),
whether the pad waits for the number, the answer's status line and the label. The Chromium test in
``test_browser.py`` checks on a sample that the modules load and run with onnxruntime-web in a page.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from conftest import pen_dev_dir, scan_dev_dir
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.number import digit_candidates, may_be_number
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import Steps, preprocess_steps
from mnist_cnn.web.pad.reader import NUMBER_PENDING_MESSAGE, reading_settings

ROOT = Path(__file__).resolve().parents[1]
FIELD_TOLERANCE = 2 / 255  # float32 sums in another order; as the Chromium test allows
LABEL = gr.Label(num_top_classes=3)  # the Draw tab's label: its postprocess gives what the page shows


def dev_drawings() -> list[Path]:
    folders = [pen_dev_dir() / "pen_digits", pen_dev_dir() / "pen_letters", scan_dev_dir() / "usps_digits"]
    return [path for folder in folders for path in sorted(folder.glob("*.png"))]


def python_steps(path: Path) -> tuple[Steps, list]:
    """The server's preprocessing of a drawing, and its ink's parts (``digit_candidates``)."""
    with Image.open(path) as image:
        steps = preprocess_steps(image)
    return steps, [] if steps.levels is None else digit_candidates(steps.levels.is_ink)


def python_reading(predictor: Predictor, steps: Steps, parts: list, probs: np.ndarray) -> dict | None:
    """What the server makes of a drawing (its pad's answer), in the form read_drawings.mjs writes."""
    if steps.field is None:
        return None
    single = predictor.prediction(steps.field, np.asarray(probs, dtype=np.float32))
    number = may_be_number(parts, single)
    label = LABEL.postprocess(single.label_confidences()).model_dump()
    return {
        "field": steps.field,
        "parts": [[part.width, part.height] for part in parts],
        "number": number,
        "status": f"**{NUMBER_PENDING_MESSAGE}**" if number else single.status_markdown(),
        "label": {} if number else label,
    }


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    """Every dev drawing read by the Python and by the JavaScript modules in Node."""
    node = shutil.which("node")
    assert node, "Node 20 is needed for this test (it runs the pad reader's JavaScript)"
    script = str(ROOT / "tests/js/read_drawings.mjs")
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    job, files = tmp_path_factory.mktemp("reader-parity"), dev_drawings()
    assert len(files) == 5000
    (job / "job.json").write_text(json.dumps({"settings": reading_settings(predictor), "paths": list(map(str, files))}))
    with subprocess.Popen([node, script, "prepare", str(job)]) as preparing:  # meanwhile, the Python side
        with ThreadPoolExecutor(os.cpu_count()) as pool:  # decoding and most steps release the GIL
            steps = list(pool.map(python_steps, files))
        fields = [s.field for s, _ in steps if s.field is not None]
        probabilities = np.concatenate(
            [predictor.probabilities_batch(fields[i : i + 500]) for i in range(0, len(fields), 500)]
        )
    assert preparing.returncode == 0
    # Each drawing the JavaScript found ink in gets the Python model's probabilities for it (for the few
    # that only one side found ink in, the test reports the disagreement).
    js_parts = json.loads((job / "parts.json").read_text())
    python_probs = iter(probabilities)
    given = [next(python_probs).tolist() if s.field is not None else None for s, _ in steps]
    (job / "probabilities.json").write_text(
        json.dumps(
            [p or [0.0] * len(probabilities[0]) for p, js in zip(given, js_parts, strict=True) if js is not None]
        )
    )
    subprocess.run([node, script, "answer", str(job)], check=True, timeout=120)
    readings = json.loads((job / "readings.json").read_text())
    expected = [python_reading(predictor, s, parts, p) for (s, parts), p in zip(steps, given, strict=True)]
    js_fields = np.fromfile(job / "fields.bin", dtype=np.float32).reshape(-1, 28, 28)
    return files, expected, readings, iter(js_fields)


def test_the_javascript_reads_every_dev_drawing_as_the_python_does(parity):
    files, expected, readings, fields = parity
    differences, disagreements = [], []
    for path, want, got in zip(files, expected, readings, strict=True):
        if want is None or got is None:
            if (want is None) != (got is None):
                disagreements.append(f"{path.name}: ink found by {'JavaScript' if got else 'Python'} only")
            continue
        difference = float(np.abs(next(fields) - want["field"]).max())
        differences.append(difference)
        for key in ("parts", "number", "status"):
            if got[key] != want[key]:
                disagreements.append(f"{path.name}: {key} {got[key]!r} in JavaScript, {want[key]!r} in Python")
        if not same_label(got["label"], want["label"]):
            disagreements.append(f"{path.name}: label {got['label']} in JavaScript, {want['label']} in Python")
    differences = np.array(differences)
    print(
        f"\n{len(files)} drawings: field within 2/255 for {np.mean(differences <= FIELD_TOLERANCE):.2%} "
        f"(largest difference {differences.max():.2e}); {len(disagreements)} other disagreements"
    )
    assert len(differences) >= 4990  # nearly every dev drawing has ink
    assert not disagreements, "\n".join(disagreements[:20])
    assert np.mean(differences <= FIELD_TOLERANCE) >= 0.995, f"largest difference {differences.max():.3f}"


def same_label(javascript: dict, python: dict) -> bool:
    """gr.Label's value: the same top label and the same classes in the same order, with their confidences."""
    if not python:
        return javascript == {}
    ours = [(c["label"], c["confidence"]) for c in javascript.get("confidences", [])]
    theirs = [(c["label"], c["confidence"]) for c in python["confidences"]]
    return (
        javascript.get("label") == python["label"]
        and [label for label, _ in ours] == [label for label, _ in theirs]
        and np.allclose([p for _, p in ours], [p for _, p in theirs], atol=1e-9)
    )
