"""Error types. Every message is one line naming the file (or setting) and the reason."""

from __future__ import annotations

from pathlib import Path


class SynthfakeError(Exception):
    """Base class: bad input or usage; the CLI prints it as one line and exits 2."""


class MediaError(SynthfakeError):
    """A media file is missing, corrupt, truncated, empty or of the wrong format."""

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class PlanError(SynthfakeError):
    """The plan cannot be built from these sources, or conflicts with the dataset's plan."""


class ManifestError(SynthfakeError):
    """A manifest line is invalid or points outside the dataset root."""


class BackendNotReady(SynthfakeError):
    """A backend cannot run here: missing extra or weights file."""


class SampleFailed(SynthfakeError):
    """One sample could not be made; recorded in failures/ and the run goes on."""


class ServiceFailed(SynthfakeError):
    """One sample failed outside its draw (a hosted API erred, timed out or answered garbage); recorded in
    failures/ like SampleFailed, but not drawn again: other sources would not help."""
