"""The detector (installed as synthfake.detector): face crops, ViT fine-tuning, scoring, metrics."""
