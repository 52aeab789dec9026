"""Command line: ``python -m mnist_cnn push BUNDLE_DIR REPO_ID`` publishes a bundle to the Hub."""

from __future__ import annotations

import argparse
import logging
import sys

from .hub import HubPushError, push_bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_cnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    push = commands.add_parser(
        "push",
        help="push an existing model bundle to the Hugging Face Hub",
        description="Push a model bundle folder to a Hub model repo in one commit. The token comes from HF_TOKEN "
        "or `hf auth login`; it is never taken on the command line.",
    )
    push.add_argument("bundle_dir", help="bundle folder written by train.py (e.g. mnist_cnn/pretrained)")
    push.add_argument("repo_id", help="target model repo, 'user/name'; created if missing")
    push.add_argument("--private", action="store_true", help="create the repo as private")
    push.add_argument("--revision", help="branch to push to (created from main if missing)")
    push.add_argument("--commit-message", help="commit message (default: names the test accuracy)")
    push.add_argument("--space-url", help="URL of the demo Space, linked from the model card")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per HTTP request is noise here

    if args.command == "push":
        try:
            url = push_bundle(
                args.bundle_dir,
                args.repo_id,
                private=args.private,
                revision=args.revision,
                commit_message=args.commit_message,
                space_url=args.space_url,
            )
        except HubPushError as err:
            print(f"error: {err}", file=sys.stderr)
            print(f"Nothing was changed in {args.bundle_dir}.", file=sys.stderr)
            return 2
        print(f"Pushed {args.bundle_dir} to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
