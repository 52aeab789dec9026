"""The network view: every stage of the CNN for the drawing on the pad, live, under the pad (``#network-view``).

``network.html``, ``network.css`` and ``network.js`` are the widget, a ``gr.HTML`` whose settings come from
``PadReader.network_settings``; the drawing and rendering are the ES modules ``network_view.mjs``,
``network_colours.mjs``, ``network_data.mjs`` and ``map_detail.mjs`` beside the reader's. The stages come
from the pad: from the browser's reader (``model.onnx``'s stage outputs) on every animation frame while the
pen moves and the view is on screen, or, when the server reads the drawing, from the server on pen-up
(``server_stages``, asked for by a final frame with ``"layers": true``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch

from mnist_cnn.reading.layers import LOGITS, encode_stages, stages_of
from mnist_cnn.reading.predict import Prediction, Predictor
from mnist_cnn.web.pad import APP_ROOT_JS
from mnist_cnn.web.widget import html_widget

HERE = Path(__file__).resolve().parent


def network_view(settings: dict[str, Any], **kwargs: Any) -> gr.HTML:
    """The view's component; ``settings``: ``PadReader.network_settings()``."""
    return html_widget(HERE, "network", APP_ROOT_JS, network=settings, **kwargs)


def wants_stages(frame: Any) -> bool:
    """A final frame (pen-up, Undo, Clear) sent while the view is on screen asks for the stages."""
    return isinstance(frame, dict) and frame.get("final") is True and frame.get("layers") is True


def server_stages(predictor: Predictor, prediction: Prediction) -> dict[str, Any] | None:
    """The stages of the drawing as the model read it, packed for the page (``encode_stages``), and the
    outputs' probabilities; None for an empty pad or an unreadable drawing."""
    if prediction.model_input is None:
        return None
    field = torch.from_numpy(np.asarray(prediction.model_input, dtype=np.float32)).reshape(1, 1, 28, 28)
    stages = stages_of(predictor.model, field)  # one run: the stages and the logits
    probabilities = predictor.calibrated(stages[LOGITS])[0]
    return {"stages": encode_stages(stages), "probabilities": [round(float(p), 6) for p in probabilities]}
