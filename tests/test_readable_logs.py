"""Logs a person can read: the progress rate is the mean since the bar started (no late swing), the sources
scan counts files, lines printed when output is piped are never wrapped inside a path or a command."""

from __future__ import annotations

import shutil

from conftest import gen
from rich.progress import Progress

from synthfake.progress import EtaColumn, RateColumn


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_rate_and_eta_do_not_swing_when_the_last_samples_are_slow():
    """100 samples in 40 s, then two slow ones at 70 s and 81 s: rich's 30-second window gives 1/11 = 0.09
    samples/s and an ETA of minutes; the mean since the start stays 102/81 = 1.26."""
    clock = Clock()
    prog = Progress(get_time=clock)
    task_id = prog.add_task("shard", total=110)
    for _ in range(100):
        clock.t += 0.4
        prog.advance(task_id)
    for t in (70.0, 81.0):
        clock.t = t
        prog.advance(task_id)
    task = prog.tasks[0]
    assert task.speed is not None and task.speed < 0.1  # what the bar showed before
    assert RateColumn().render(task).plain == "1.26 samples/s"
    assert EtaColumn().render(task).plain == "ETA 0:00:06"  # 8 left at 1.26/s


def test_the_sources_scan_counts_files(data_dir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(data_dir / "nonfaces" / "animal_s22.jpg", src)
    (src / "notes.txt").write_text("not media")
    err = gen("sources", "scan", src).stderr
    lines = [ln for ln in err.splitlines() if ln.startswith("indexing sources")]
    assert lines and all(" files/s" in ln for ln in lines) and "samples/s" not in err, err


def test_printed_lines_are_not_wrapped_when_piped(tmp_path):
    """Piped output is 80 columns wide to rich: a long path in a `wrote ...` or `next: ...` line stays whole."""
    script = tmp_path / ("a-folder-with-a-long-name-" * 3) / "synthfake.sbatch"
    (tmp_path / "S").mkdir()  # gen run's checks that need no scan run first: --sources a folder
    proc = gen("slurm-script", "--tasks", 2, "--script", script, "--", "--out", tmp_path / "D", "--sources",
               tmp_path / "S")
    assert proc.stdout == f"wrote {script}: sbatch {script}\n"


def test_training_prints_lines_per_epoch_with_validation_auc_and_f1(mixed_dataset, tmp_path):
    """`gen detect train` piped (as under Slurm or nohup): no tqdm redraws, no Python dicts, one line per epoch
    with the validation AUC and macro F1."""
    import pytest

    pytest.importorskip("transformers")
    proc = gen("detect", "train", mixed_dataset, "--out", tmp_path / "M", "--image-size", 32, "--epochs", 2,
               "--frames", 2, "--score-frames", 2, "--batch-size", 8, "--workers", 0)
    text = proc.stdout + proc.stderr
    assert "\r" not in text and "{'" not in text and "it/s]" not in text, text[-2000:]
    epochs = [ln for ln in proc.stderr.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(" done in ")[0] for ln in epochs] == ["epoch 1/2", "epoch 2/2"], proc.stderr[-2000:]
    for ln in epochs:
        assert "train loss " in ln and ("val AUC " in ln and ", macro F1 " in ln or "not both classes" in ln), ln
    assert any(ln.startswith("step ") and ": loss " in ln for ln in proc.stderr.splitlines())
