"""The web app's side: the page ``app.py`` composes and what serves it.

``tabs/`` (one module per tab), ``pad/`` (the drawing pad and its in-browser reader), ``feedback/``
(visitors' corrections, kept in a Hub dataset), ``network/`` (the network view), ``widget`` (a ``gr.HTML``
widget from its files), ``views`` (what the app shows of a bundle), ``serving`` (limits for a public link)
and ``env`` (reading the app's environment variables).
"""
