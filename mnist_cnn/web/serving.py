"""How the app holds up on a public link: upload limits, cache clean-up, the queue, and CPU threads.

Every figure can be changed by an environment variable, so a Space with more cores (or a test that
wants a small queue) can set it without editing code.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import gradio as gr
import torch
from gradio.route_utils import delete_files_created_by_app
from starlette.routing import BaseRoute

from .env import env_number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingLimits:
    # A drawing is tens of KB; a phone photo of a digit on paper is up to ~8 MB. Gradio refuses more
    # while the upload streams in (413), before it is written to disk.
    max_file_size: str = "8mb"
    # Uploads and generated images are deleted this long after they were written.
    cache_seconds: int = 600
    # Predictions running at once, shared by the live pad and the `predict` API: one per core, each
    # with one torch thread, keeps every core busy without threads fighting over them.
    model_workers: int = 2
    # Events waiting at most. Beyond it a request is refused at once with 503 "Queue is full" (try
    # again) instead of waiting behind everyone: 64 waiting events drain in about a second here.
    queue_size: int = 64
    # Sessions whose state is kept (oldest dropped first). Each costs ~70 KB here (Gradio copies every
    # component's config into it), and a caller that opens a new session per call (curl) makes one
    # per request: Gradio's default of 10,000 would let that grow the server by ~700 MB.
    sessions: int = 1000

    @classmethod
    def from_env(cls) -> ServingLimits:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return cls(
            max_file_size=os.environ.get("APP_MAX_FILE_SIZE", "").strip() or cls.max_file_size,
            cache_seconds=env_number("APP_CACHE_SECONDS", cls.cache_seconds),
            model_workers=env_number("APP_MODEL_WORKERS", max(1, min(cores, 4))),
            queue_size=env_number("APP_QUEUE_SIZE", cls.queue_size),
            sessions=env_number("APP_SESSIONS", cls.sessions),
        )

    @property
    def cleanup_every(self) -> int:
        """Seconds between clean-up passes: often enough that nothing outlives twice its age."""
        return max(1, min(60, self.cache_seconds // 2))

    def launch_options(self, demo: gr.Blocks, routes: list[BaseRoute] | None = None) -> dict[str, Any]:
        """``demo.launch(**...)``: the upload limit, the sessions kept, the cache clean-up run in the app's
        lifespan, and the app's own ``routes`` (served before Gradio's)."""
        return {
            "max_file_size": self.max_file_size,
            "state_session_capacity": self.sessions,
            "app_kwargs": {"lifespan": self.cache_cleanup(demo), "routes": routes or []},
        }

    def cache_cleanup(self, demo: gr.Blocks) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """A lifespan that deletes the app's uploads and generated files once older than ``cache_seconds``.

        Gradio's own ``delete_cache`` pass walks its live file sets from a thread while requests add to
        them; one "set changed size during iteration" ends its loop for good (under load in
        tests/test_public_link.py the cache then kept growing). This runs the same deletion, again when
        that happens.
        """

        async def clean_forever() -> None:
            while True:
                await asyncio.sleep(self.cleanup_every)
                for _ in range(5):
                    try:
                        await anyio.to_thread.run_sync(delete_files_created_by_app, demo, self.cache_seconds)
                        break
                    except RuntimeError:  # a request added a file during the pass: run it again
                        continue
                    except Exception:  # never let one bad pass end the clean-up
                        log.exception("Cache clean-up pass failed")
                        break

        @asynccontextmanager
        async def lifespan(_app: Any) -> AsyncIterator[None]:
            task = asyncio.create_task(clean_forever())
            try:
                yield
            finally:
                task.cancel()
                delete_files_created_by_app(demo, None)  # a restart starts with an empty cache

        return lifespan

    def configure(self) -> None:
        """Before the Blocks and its queue are made: torch threads, and Gradio's queue statistics."""
        # One torch thread per prediction: ``model_workers`` of them run side by side on the cores.
        torch.set_num_threads(1)
        # Gradio rebuilds a pandas summary of its last 10,000 events after every event (for its
        # monitoring page): ~6 ms of CPU per event once a busy app has 10,000. Every 100 events is enough.
        os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")


def serve(demo: gr.Blocks, limits: ServingLimits, routes: list[BaseRoute], page_css: Path, **launch: Any) -> None:
    """Run the app until it is stopped (Ctrl-C, or SIGTERM when a Space restarts or `docker stop`).
    ``launch``: Gradio's ``server_name``, ``server_port`` and ``share``; ``routes``: extra routes served
    beside the app (the in-browser reader's files)."""
    # torch, Gradio and the bundle are ~450k long-lived objects: a full garbage collection walks them all
    # (~0.2 s with everything else stopped). Frozen, they are left out, and requests are not stalled.
    gc.freeze()
    # SIGTERM ends the server as Ctrl-C does, so that what is still to be done on the way out (the
    # corrections not pushed yet) is done by the caller once this returns.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # show_error: a refused request (a file that was not uploaded, a malformed payload) is told why.
        # launch_options: the upload size limit, uploads and generated images deleted once they are
        # limits.cache_seconds old, and the extra routes.
        demo.launch(css_paths=[page_css], show_error=True, **launch, **limits.launch_options(demo, routes))
    except KeyboardInterrupt:
        pass  # stopped while still starting (once running, Gradio itself catches it and closes the server)
