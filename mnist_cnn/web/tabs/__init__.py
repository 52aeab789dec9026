"""The app's tabs, one module each: Draw, Photo or scan, Test samples, Confusion matrix, Training, Model.

Each module has a ``build(...)`` that takes what its tab needs, lays the tab out and, at its bottom, wires
the tab's events to top-level handlers. ``app.py`` calls them inside its ``gr.Tab`` blocks; ``common``
holds what several tabs share, and ``feedback`` is the Draw tab's "Tell it what you drew" section.
"""
