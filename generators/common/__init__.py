"""Helpers only the backends use: geometry (warp, landmarks, align), the shared clip loop, ONNX and HTTP
plumbing, prompts. Nothing in the core imports these."""
