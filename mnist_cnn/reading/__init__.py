"""Reading: a drawing, a photo or a file becomes a digit, a number and an explanation. The app, the CLI
(``python -m mnist_cnn predict``), training's measurements and the browser's mirror
(``mnist_cnn/web/pad/reader/``) all read this way.

``sketch`` (an image to the 28x28 field), ``predict`` (the model, its calibration and the answer rule),
``number`` (numbers of several digits), ``explain`` (why this digit: Integrated Gradients).
"""
