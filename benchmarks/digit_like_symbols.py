"""Which characters of ``handwriting-train/mouse_symbols`` people write as digits, to leave out of "not a digit".

    .venv/bin/python benchmarks/digit_like_symbols.py [--handwriting ../shared/data/handwriting-train]
        [--model FOLDER_OR_REPO] [--share 0.5] [--sheet digit_like.png]

Every drawing is redrawn with the pen folders' median pen and read by a model that never trained on the
symbols (default: the shipped one, through the app's path, no abstention). A character is digit-like when
at least ``--share`` of its drawers' drawings are named the same digit. Prints each character's commonest
digit and share, the digit-like ones as a Python set (``handwriting.DIGIT_LIKE_SYMBOLS``), and draws them,
one row per character, into ``--sheet`` for a person to look at before they are left out.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_cnn.hub import load_model_source
from mnist_cnn.learning.handwriting import MEDIAN_PEN_RATIO, read_manifest, redraw_symbol
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import sketch_to_mnist

SHARED = ROOT.parent / "shared" / "data"


def read_characters(predictor: Predictor, root: Path) -> dict[str, list[tuple[Path, int | None]]]:
    """Per alphabet/character: each drawing and the digit named for it (None: "not a digit")."""
    characters = collections.defaultdict(list)
    for sample in read_manifest(root, "mouse_symbols"):
        result = predictor(redraw_symbol(sample.path, MEDIAN_PEN_RATIO))
        characters[sample.character].append((sample.path, result.digit))
    return characters


def contact_sheet(rows: list[list[Path]], out: Path, per_row: int = 10) -> None:
    """Each row's first drawings as the model sees them (28x28, enlarged 2x), white on black."""
    sheet = np.zeros((max(1, len(rows)) * 56, per_row * 56), dtype=np.uint8)
    for r, paths in enumerate(rows):
        for c, path in enumerate(paths[:per_row]):
            field = sketch_to_mnist(redraw_symbol(path, MEDIAN_PEN_RATIO))
            if field is not None:
                sheet[r * 56 : (r + 1) * 56, c * 56 : (c + 1) * 56] = np.kron(field, np.ones((2, 2))) * 255
    Image.fromarray(sheet).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handwriting", type=Path, default=SHARED / "handwriting-train")
    parser.add_argument("--model", help="bundle folder or Hub repo (default: the shipped model)")
    parser.add_argument("--share", type=float, default=0.5, help="share of drawings named one digit")
    parser.add_argument("--sheet", type=Path, default=Path("digit_like.png"), help="picture of the chosen ones")
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundle = load_model_source(args.model)
    predictor = Predictor.from_bundle(bundle)  # its answer rule: "not a digit" where the app says so
    characters = read_characters(predictor, args.handwriting)
    chosen, named_total, total = [], 0, 0
    print("character | drawings | named a digit | commonest digit (share)")
    for name, drawings in sorted(characters.items()):
        named = [digit for _, digit in drawings if digit is not None]
        named_total, total = named_total + len(named), total + len(drawings)
        digit, count = collections.Counter(named).most_common(1)[0] if named else (None, 0)
        share = count / len(drawings)
        if share >= args.share:
            chosen.append((name, digit, share))
        if named:
            print(f"{name} | {len(drawings)} | {len(named)} | {digit} ({100 * share:.0f}%)")
    print(f"\nA digit named for {named_total} of {total} drawings ({100 * named_total / total:.1f}%)")
    print(f"Digit-like (one digit for >= {100 * args.share:.0f}% of drawings): {len(chosen)} characters")
    for name, digit, share in chosen:
        print(f"  {name}: {digit} ({100 * share:.0f}%)")
    print("DIGIT_LIKE_SYMBOLS = {" + ", ".join(repr(tuple(n.split("/"))) for n, _, _ in chosen) + "}")
    contact_sheet([[path for path, _ in characters[name]] for name, _, _ in chosen], args.sheet)
    print(f"Their drawings, one row per character: {args.sheet}")


if __name__ == "__main__":
    main()
