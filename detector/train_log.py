"""What `gen detect train` prints while the Trainer runs: one plain line per logging step and per epoch, with
the validation ROC AUC and macro F1, in the project's line style (no Python dicts, no tqdm `\\r` redraws in a
log file).

transformers prints each log as a dict (PrinterCallback, or ProgressCallback through its bar); both are
replaced here. On a terminal the step bar stays (ProgressCallback without its dict lines); with stderr piped
(Slurm, nohup, a CI log) there is no bar at all, only the lines. Validation is scored per epoch the way the
threshold is chosen after training (file-level scores, as `predict` makes them).
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Callable

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from .metrics import best_threshold


def _num(x: float) -> str:
    """An epoch count as people write it: 1, 2.5, 0.01."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def val_scorer(meta, dataset, records, o) -> Callable | None:
    """`score_val(model)`: (labels, fake probabilities) of the val files that gave crops, the model put back in
    training mode after; None when there is no val split to score."""
    if not records:
        return None
    from .evaluate import score_records

    def score_val(model) -> tuple[list[int], list[float]]:
        scores = score_records(model.eval(), meta, dataset, records, o.eval_batch_size, o.workers, o.cache_root,
                               False)
        model.train()
        pairs = [(r.label, s.prob) for r, s in zip(records, scores) if s.prob is not None]
        return [y for y, _ in pairs], [p for _, p in pairs]

    return score_val


class StepBar(ProgressCallback):
    """transformers' step bar without the dict it writes under itself at each log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return None


def val_line(labels: list[int], probs: list[float]) -> str:
    """`val AUC 0.712, macro F1 0.664 at threshold 0.4300 (24 files)`, or why it cannot be said."""
    if len(set(labels)) < 2:
        return f"val: {len(labels)} scored file(s), not both classes: no AUC or F1"
    from sklearn.metrics import roc_auc_score

    t, f1 = best_threshold(labels, probs)
    return f"val AUC {roc_auc_score(labels, probs):.3f}, macro F1 {f1:.3f} at threshold {t:.4f} ({len(labels)} files)"


class EpochLog(TrainerCallback):
    """Lines: `step 12/96 (epoch 1.00/8): loss 0.6931, learning rate 1.0e-03` at each logging step, and
    `epoch 1/8 done in 0:00:41: train loss 0.6931; val AUC 0.712, macro F1 0.664 at threshold 0.4300 (24 files)`
    at each epoch's end. `score_val(model)` gives (labels, probabilities) of the val files, or None to skip."""

    def __init__(self, log: Callable[[str], None], score_val: Callable | None):
        self.log, self.score_val = log, score_val
        self.t0 = self.epoch_t0 = time.monotonic()
        self.losses: list[float] = []

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.epoch_t0, self.losses = time.monotonic(), []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            self.losses.append(float(logs["loss"]))
            lr = logs.get("learning_rate")
            self.log(f"step {state.global_step}/{state.max_steps} (epoch {_num(state.epoch or 0)}/"
                     f"{_num(args.num_train_epochs)}): loss {logs['loss']:.4f}"
                     + (f", learning rate {lr:.1e}" if lr is not None else ""))
        elif "train_runtime" in logs:
            self.log(f"trained {state.global_step} steps in {timedelta(seconds=int(logs['train_runtime']))}: "
                     f"mean train loss {logs.get('train_loss', float('nan')):.4f}")

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        took = timedelta(seconds=int(time.monotonic() - self.epoch_t0))
        loss = f"train loss {sum(self.losses) / len(self.losses):.4f}" if self.losses else "no loss logged yet"
        scored = self.score_val(model) if self.score_val is not None and model is not None else None
        val = f"; {val_line(*scored)}" if scored is not None else ""
        self.log(f"epoch {_num(state.epoch or 0)}/{_num(args.num_train_epochs)} done in {took}: {loss}{val}")


def attach(trainer, show: bool, log: Callable[[str], None], score_val: Callable | None) -> None:
    """Replace the Trainer's dict printers: with `show`, EpochLog lines (and the step bar on a terminal);
    without, nothing (--quiet)."""
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if not show:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        return
    if sys.stderr.isatty():
        trainer.add_callback(StepBar)
    trainer.add_callback(EpochLog(log, score_val))
