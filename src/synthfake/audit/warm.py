"""Preloaded by the audit's forkserver: the frame code and dlib's three models, loaded once.

Every worker process is forked from that server, so each starts with the models in memory instead of
loading them itself (about a second each, per worker, per audit).
"""

from . import frames as audit_frames
from .. import faces

faces.preload_models()

__all__ = ["audit_frames"]
