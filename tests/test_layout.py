"""The project's layout holds: the app loads none of training's side, and the scripts and functions stay
short enough to read (app.py at most 100 lines, train.py at most 250, no function over 60)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING_SIDE = ("training", "synthetic", "redraw", "devsets", "evaluation", "card")


def test_importing_the_app_loads_none_of_the_training_side():
    code = "import json, sys, app; print(json.dumps(sorted(m for m in sys.modules if m.startswith('mnist_cnn'))))"
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True, text=True).stdout
    )
    assert "mnist_cnn.web.tabs.draw" in loaded and "mnist_cnn.reading.sketch" in loaded  # the app itself did load
    assert not [m for m in loaded if m.startswith("mnist_cnn.learning")], loaded
    assert not [m for m in loaded if m in {f"mnist_cnn.learning.{name}" for name in TRAINING_SIDE}], loaded


def test_the_learning_modules_are_the_training_side():
    """The modules the app must not load are where the import test looks for them."""
    learning = {path.stem for path in (ROOT / "mnist_cnn/learning").glob("*.py")}
    assert set(TRAINING_SIDE) <= learning


def test_scripts_and_functions_stay_short():
    assert len((ROOT / "app.py").read_text().splitlines()) <= 100
    assert len((ROOT / "train.py").read_text().splitlines()) <= 250
    long = []
    for path in [ROOT / "app.py", ROOT / "train.py", *sorted((ROOT / "mnist_cnn").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    long.append(f"{path.relative_to(ROOT)}: {node.name} is {length} lines")
    assert not long, "\n".join(long)


def test_the_class_layout_is_defined_once():
    """No module but mnist_cnn.classes (re)defines the layout's names: the others import them."""
    names = {"NUM_DIGITS", "NOT_A_DIGIT", "NUM_CLASSES", "NOT_A_DIGIT_LABEL", "DIGIT_LABELS", "CLASS_LABELS"}
    defined = []
    for path in [ROOT / "train.py", *sorted((ROOT / "mnist_cnn").rglob("*.py"))]:
        if path.name != "classes.py":
            for node in ast.walk(ast.parse(path.read_text())):
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                defined += [f"{path.name}: {t.id}" for t in targets if isinstance(t, ast.Name) and t.id in names]
    assert not defined, defined
