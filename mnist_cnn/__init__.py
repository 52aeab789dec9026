"""A small CNN for MNIST digits, and the demo around it, grouped by where each part runs.

- At the top, what every side shares: ``model`` (the CNN), ``classes`` (its outputs), ``bundle`` (the model
  bundle's files), ``hub`` (a model source resolved into a bundle) and ``__main__`` (``python -m mnist_cnn``:
  ``push``, ``onnx``, ``predict``).
- ``learning/``: training's side (``train.py``), never imported by the app.
- ``reading/``: a drawing, photo or file read as a digit, a number and an explanation (the app, the CLI,
  training's measurements; ``web/pad/browser/`` mirrors it in JavaScript).
- ``web/``: the app's side: tabs, the drawing pad and its in-browser reader, visitors' corrections, views
  and serving.
"""
