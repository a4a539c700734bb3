"""synthfake: synthetic deepfake training data with full provenance, and the detector trained on it."""

__version__ = "0.1.0"
