"""Training's side: what only ``train.py`` (and ``python -m mnist_cnn push``/``onnx``) runs; the app never
imports it.

``data`` (MNIST as tensors, batched augmentation), ``synthetic`` (writing styles and non-digits generated
from MNIST), ``redraw`` (MNIST redrawn with other pens, as scans, with elastic distortions),
``corrections`` (visitors' corrections read back for training), ``training`` (the loop, the device),
``evaluation`` (test metrics, the sample pack), ``devsets`` (measuring on real handwriting, choosing the
answer rule), ``metrics`` (what a run records), ``plots``, ``card`` (the model card), ``onnx_export``
(``model.onnx``, checked with onnxruntime), ``checks`` (the written bundle against the trained model) and
``push`` (a bundle to the Hub).
"""
