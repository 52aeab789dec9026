"""Visitors tell the model what they drew; their drawings become a Hub dataset that training can use.

- ``store``: corrections written to disk in an image-folder layout (``metadata.jsonl`` rows), pushed to a
  Hub dataset repo by a ``CommitScheduler``; nothing is lost when the Hub is down or the app stops.
- ``guard``: rate limits per session and per client address, and drawings already saved.
- ``buttons.html``, ``buttons.css``, ``buttons.js``: the buttons under the Draw tab's answer, a ``gr.HTML``
  widget (``widget.feedback_buttons``); ``mnist_cnn.web.tabs.feedback`` wires them.
- ``dataset``: corrections read back for training (``train.py --extra-data``).
"""
