"""`gen`'s entry point. `gen detect ...` loads only the detector's commands: scoring skips the plan, manifest and
pydantic imports (~0.4 s of a clip folder's start-up); every other command loads the full CLI."""

from __future__ import annotations

import gc
import sys


def main() -> None:
    """`gen`: dispatch on the first word, then spare the exit a full collection of every object (~0.2-0.4 s)."""
    from .cli_common import run

    try:
        if sys.argv[1:2] == ["detect"]:
            from .detector.cli import detect_app

            code = run(detect_app, sys.argv[2:], "gen detect")
        else:
            from .cli import app

            code = run(app, sys.argv[1:], "gen")
    finally:  # everything is written and closed by now
        gc.freeze()
    sys.exit(code)
