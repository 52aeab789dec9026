"""A small CNN for MNIST digits: data, model, training, evaluation, Hub I/O and sketch preprocessing.

Modules: ``data`` (MNIST as tensors, batched augmentation), ``model`` (MnistCNN), ``training``
(the loop), ``evaluation`` (test metrics, sample pack), ``plots``, ``card`` (model card), ``bundle``
(the bundle folder: write and load), ``hub`` (push to and download from the Hub), ``sketch``
(drawings to 28x28), ``predict``, ``views`` (what the app shows), ``pad/`` (the drawing pad's HTML,
CSS and JavaScript), ``feedback/`` (visitors' corrections: saved, pushed to a Hub dataset, read back for
training). ``python -m mnist_cnn`` has the ``push`` and ``predict`` commands.
"""
