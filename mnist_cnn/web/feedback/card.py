"""The corrections dataset's card (its README.md), built with huggingface_hub's DatasetCard from
``dataset_card.md``. It is written once, into a repo that has none: a card its owner edited is kept."""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import DatasetCard, DatasetCardData, constants

CARD_FILE = "README.md"
CARD_TEMPLATE = Path(__file__).resolve().parent / "dataset_card.md"
PRETTY_NAME = "MNIST digit demo: visitors' corrections"


def space_url() -> str | None:
    """The Space the app runs in, from the ``SPACE_ID`` variable the Hub sets in it (None elsewhere)."""
    space_id = os.environ.get("SPACE_ID")
    return f"{constants.ENDPOINT}/spaces/{space_id}" if space_id else None


def dataset_card(repo_id: str) -> DatasetCard:
    """The card for the corrections pushed to ``repo_id``."""
    card_data = DatasetCardData(
        pretty_name=PRETTY_NAME,
        task_categories=["image-classification"],
        tags=["mnist", "handwriting", "digits", "human-feedback"],
    )
    # the template also gets card_data's fields (pretty_name) as variables
    return DatasetCard.from_template(
        card_data, template_path=str(CARD_TEMPLATE), repo_id=repo_id, space_url=space_url()
    )
