"""The model card (the bundle's README.md), built with huggingface_hub's ModelCard."""

from __future__ import annotations

from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

MODEL_NAME = "mnist-cnn"

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}: a small CNN for handwritten digits

A {{ "{:,}".format(metrics.num_parameters) }}-parameter convolutional network trained from scratch on
[MNIST](https://huggingface.co/datasets/ylecun/mnist) with PyTorch. It reaches
**{{ "%.2f"|format(100 * metrics.test_accuracy) }}% accuracy on the official 10,000-image test set**,
a set used only for this final evaluation: the weights were chosen on a held-out validation split of
the training data.
{% if space_url %}
Try it: draw a digit in the [demo Space]({{ space_url }}).
{% endif %}
## Results

| metric | value |
| --- | --- |
| test accuracy | {{ "%.2f"|format(100 * metrics.test_accuracy) }}% ({{ metrics.test_errors }} errors in {{ metrics.test_size }}) |
| test loss (cross-entropy) | {{ "%.4f"|format(metrics.test_loss) }} |
{% if metrics.test_ece is defined %}| test calibration error (ECE, 15 bins) | {{ "%.2f"|format(100 * metrics.test_ece) }} points (temperature {{ "%.3f"|format(metrics.temperature) }}) |
| test images answered right ("not sure" counts as wrong) | {{ "%.2f"|format(100 * metrics.test_answered_right) }}% |
{% endif %}| best validation accuracy | {{ "%.2f"|format(100 * metrics.best_val_accuracy) }}% (epoch {{ metrics.best_epoch }} of {{ metrics.epochs_run }}) |
| parameters | {{ "{:,}".format(metrics.num_parameters) }} |
| training time | {{ "%.0f"|format(metrics.train_seconds) }} s on {{ metrics.hardware }} |

Per class on the test set:

| digit | precision | recall | F1 | images |
| --- | --- | --- | --- | --- |
{% for digit, row in metrics.per_class.items() -%}
| {{ digit }} | {{ "%.4f"|format(row.precision) }} | {{ "%.4f"|format(row.recall) }} | {{ "%.4f"|format(row.f1) }} | {{ row.support }} |
{% endfor %}
![Confusion matrix on the test set](confusion_matrix.png)
{% if metrics.dev_sets %}
## Real handwriting (development folders)

MNIST's test set is written like its training set. To see how the model reads other people, it is
measured on drawings that are not MNIST: pen trajectories from UNIPEN and USPS zip-code scans, drawn
as 400x400 sketchpad canvases, read through the app's own preprocessing. These folders are development
data: used to measure and to choose the answer rule, never to train. "Best guess right" counts the top
digit whether or not the demo names it.

| development folder | measured |
| --- | --- |
{% for name, row in metrics.dev_sets.items() -%}
| `{{ name }}/` | {{ row.summary }} |
{% endfor %}{% endif %}{% if metrics.kept_out_handwriting %}
Real handwriting of people kept out of training (the writers and drawers of `handwriting-train/` that
training did not see), under the same answer rule:

| folder, people kept out | measured |
| --- | --- |
{% for name, row in metrics.kept_out_handwriting.items() -%}
| `{{ name }}/` | {{ row.summary }} |
{% endfor %}{% endif %}
{% if metrics.temperature is defined %}
## Confidence

The probabilities are calibrated by temperature scaling: the logits are divided by
{{ "%.3f"|format(metrics.temperature) }} (stored in `calibration.json`, fitted on the validation split after
training), so that "90% sure" is right about 90% of the time. {% if metrics.answer_rule is defined -%}
How the demo answers: {{ metrics.answer_rule }}
{%- else -%}
Below a calibrated probability of
{{ "%.0f"|format(100 * metrics.abstain_below) }}% for the best digit, the demo says "not sure" instead of naming one.
{%- endif %}

![Reliability diagram](reliability.png)
{% endif %}
![Loss and accuracy by epoch](loss_curves.png)

![Misclassified test images](misclassified.png)

## Usage

The input is a float tensor `(N, 1, 28, 28)` of intensities in [0, 1], white digit on black, as in
MNIST; the model normalizes it itself and returns logits `(N, {{ metrics.config.num_classes or 10 }})`{% if metrics.config.num_classes == 11 %}: the ten
digits, then "not a digit"{% endif %}.

```python
import torch
from mnist_cnn.model import MnistCNN

model = MnistCNN.from_pretrained("{{ model_source }}")
images = torch.rand(4, 1, 28, 28)  # your digits here
probabilities = (model(images) / {{ "%.3f"|format(metrics.temperature or 1.0) }}).softmax(dim=1)  # calibrated
print(probabilities[:, :10].argmax(dim=1))
```

For drawings and photos, `mnist_cnn.reading.predict.Predictor.from_bundle` applies the app's preprocessing,
calibration and abstention.

### ONNX: onnxruntime and the browser

`model.onnx` holds the same weights in one file (input `image`, `(N, 1, 28, 28)`; output `logits`, then
every stage of the network by name, `conv1` ... `conv5` after their ReLU and `pool1` ... `pool3`, which the
demo's network view shows). It is checked against them with onnxruntime: the same predictions, logits and
every stage within 1e-4. Ask for `logits` alone when you do not need the stages. `dataset_examples.json`
and `.png` hold, for every channel, the 9 test images that excite it most.

```python
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx")
images = np.random.rand(4, 1, 28, 28).astype(np.float32)  # your digits here
(logits,) = session.run(["logits"], {"image": images})
print(logits[:, :10].argmax(axis=1))
```

In a web page, with [onnxruntime-web](https://onnxruntime.ai/docs/get-started/with-javascript/web.html) (`npm install
onnxruntime-web`); the demo's drawing pad reads drawings this way, in the visitor's browser:

```js
import * as ort from "onnxruntime-web/wasm";

const session = await ort.InferenceSession.create("model.onnx");
const pixels = new Float32Array(28 * 28); // your digit here, white on black, in [0, 1]
const image = new ort.Tensor("float32", pixels, [1, 1, 28, 28]);
const { logits } = await session.run({ image }, ["logits"]); // add "conv1", ... for the stages
const scores = Array.from(logits.data).map((z) => z / {{ "%.3f"|format(metrics.temperature or 1.0) }});
console.log(scores.slice(0, 10).indexOf(Math.max(...scores.slice(0, 10)))); // the digit
```

`explain.onnx` explains a reading in the same way: Integrated Gradients (baseline a blank field, 40
Gauss-Legendre steps, as captum computes them), written as one graph of ordinary operations (the forward
pass as PyTorch runs it; backwards, the ReLU masks, the max-pools' choices and the convolutions with their
kernels flipped), checked against captum on test images. Inputs `image` `(1, 1, 28, 28)`, `target` `(1,)`
int64 (the digit), `alphas` and `step_weights` `(steps,)`; output `attributions` `(1, 1, 28, 28)`. The
demo runs it in two Web Workers, each summing half of the steps.

The code, the training script and a drawing demo live in the project's repository: `mnist_cnn/`
holds the model, `train.py` trains it, `app.py` is the Gradio demo.

## Training recipe

- Data: the 60,000 MNIST training images, of which a fixed, seeded {{ "{:,}".format(metrics.validation_size) }}
  are held out for validation; the test set is never used for choices.
- Augmentation, on whole batches of tensors: random rotation, scale, shear and shift, and random
  stroke thickening or thinning (people draw with thick and thin brushes).
{% if metrics.config.style_strokes %}- Writing styles MNIST lacks, drawn onto MNIST digits by the code: a slash through
  {{ "%.0f"|format(100 * metrics.config.style_strokes) }}% of the 0s, a flag (and sometimes a foot) on as many 1s, a bar across as many 7s.
{% endif %}{% if metrics.config.negatives %}- An 11th output, "not a digit", learned from generated non-digits ({{ "%.0f"|format(100 * metrics.config.negatives) }}% on top of each
  batch): letter shapes built from pen strokes (only letters no one writes as a digit), two MNIST digits
  overlaid side by side, random scribbles.
{% endif %}{% if metrics.handwriting %}{% set hw = metrics.handwriting %}- Real handwriting (`handwriting-train/`), read through the app's preprocessing like a visitor's
  drawing; the thin 1-bit symbols redrawn with a pen as wide as the drawing pad's:
{% for name, row in hw.folders.items() %}  `{{ name }}` {{ "{:,}".format(row.trained) }} images{% if row.kept_out %} ({{ "{:,}".format(row.kept_out) }} kept out){% endif %}{% if not loop.last %};{% else %}:{% endif %}
{% endfor %}  the real digits seen {{ hw.digits_repeat }}x per epoch, the real letters and symbols (as "not a digit")
  {{ hw.non_digits_repeat }}x: {{ "%.0f"|format(100 * hw.real_share_of_non_digits) }}% of the non-digits an epoch sees, the rest generated;
  {{ hw.digit_like_symbols_left_out }} drawings of symbols people write as digits left out.
{% endif %}{% if metrics.extra_data %}- Visitors' corrections from the demo's drawing pad: {{ metrics.extra_data.rows }} drawings
  ({{ metrics.extra_data.digits }} digits, {{ metrics.extra_data.not_a_digit }} "not a digit") from {% if metrics.extra_data.on_hub %}the dataset
  [{{ metrics.extra_data.source }}](https://huggingface.co/datasets/{{ metrics.extra_data.source }}){% else %}the folder `{{ metrics.extra_data.source }}`{% endif %}
  at revision `{{ metrics.extra_data.revision }}`, added to the training images only (each seen
  {{ metrics.extra_data.repeat }}x per epoch; never to validation or test).
{% endif %}
- Optimizer: AdamW, one-cycle learning-rate schedule, label smoothing, an exponential moving average
  of the weights; the epoch with the best validation accuracy is kept.
{% if metrics.lr_sweep %}- Learning rate chosen by a short sweep on validation accuracy:
{% for lr, acc in metrics.lr_sweep.items() %}  {{ lr }} → {{ "%.2f"|format(100 * acc) }}%{% if not loop.last %};{% endif %}
{% endfor %}{% endif %}

| setting | value |
| --- | --- |
{% for key, value in metrics.config.items() -%}
| {{ key }} | {{ value }} |
{% endfor %}

Reproduce with:

```bash
{{ metrics.command }}
```

## Limitations

MNIST digits are centred, size-normalized, white on black and written by US census staff and
students. Digits that look different (photos, other scripts, several digits at once, no
preprocessing) can be misread; the demo app's preprocessing brings drawings close to MNIST first.
The "not a digit" output has seen only generated shapes: it catches many letters and doodles, not all.
"""


def build_model_card(
    metrics: dict[str, Any],
    model_source: str = "path/to/bundle",
    space_url: str | None = None,
) -> ModelCard:
    """The bundle's model card, with ``model-index`` metadata the Hub shows as an evaluation result."""
    card_data = ModelCardData(
        model_name=MODEL_NAME,
        license="mit",
        library_name="pytorch",
        pipeline_tag="image-classification",
        tags=["mnist", "image-classification", "cnn", "pytorch_model_hub_mixin", "model_hub_mixin"],
        datasets=["ylecun/mnist"]
        + ([extra["source"]] if (extra := metrics.get("extra_data")) and extra["on_hub"] else []),
        metrics=["accuracy"],
        eval_results=[
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type="ylecun/mnist",
                dataset_name="MNIST",
                dataset_split="test",
                metric_type="accuracy",
                metric_name="Test accuracy",
                metric_value=round(metrics["test_accuracy"], 6),
            )
        ],
    )
    return ModelCard.from_template(
        card_data,
        template_str=CARD_TEMPLATE,
        model_name=MODEL_NAME,
        metrics=metrics,
        model_source=model_source,
        space_url=space_url,
    )
