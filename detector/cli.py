"""`gen detect train | predict | eval`: the detector's commands (torch and transformers load inside them)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from synthfake import checks
from synthfake.cli_common import (DECODE_WORKERS, DEVICE, FP16, MODEL_DIR, QUIET, SCORE_BATCH, next_steps,
                                   one_line_errors, out, say)
from synthfake.errors import SynthfakeError

detect_app = typer.Typer(no_args_is_help=True, help="Train, score and evaluate the ViT deepfake detector.")


def _note(msg: str) -> None:
    say(msg)


def _report(tables: list, json_out: Optional[Path], record) -> None:
    """`gen detect eval`'s output, whichever report: its tables printed, then with --json `record()` written."""
    for t in tables:
        out.print(t)
    if json_out:
        from synthfake.files import write_json_atomic

        write_json_atomic(json_out, record())


def _check_dataset_or_labels(dataset: Path, labels: Optional[Path]) -> None:
    """`gen detect eval MODEL FOLDER`: a folder that is no dataset (nor a webdataset/hf export of one, unpacked
    here as `gen detect train` unpacks it) needs --labels; say so before the model loads."""
    if labels is not None:
        return
    from synthfake.export.reader import as_dataset

    view = as_dataset(dataset, _note)
    if not (view / "plan.json").exists() and not (view / "manifest").is_dir():
        what = ("not a folder" if not dataset.is_dir()
                else "not a dataset made by `gen run` (no plan.json, no manifest/) nor a webdataset/hf "
                     "export of one")
        raise SynthfakeError(f"{dataset}: {what}; to evaluate a labelled folder, give --labels labels.csv "
                             f"(path,label[,kind,model])")


@detect_app.command("train")
@one_line_errors
def detect_train(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="Dataset made by `gen run`, or its webdataset/hf export."),
    out_dir: Path = typer.Option(..., "--out", help="Model folder to write."),
    base: Optional[Path] = typer.Option(None, "--base", help="Local ViT checkpoint folder (default: the CPU recipe "
                                        "detector/default_recipe.json: residual statistics and a linear head)."),
    epochs: float = typer.Option(3.0, "--epochs", min=0.01, help="Passes over the train split."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Crops per training step."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Default 5e-5 with --base, the recipe's without."),
    frames: int = typer.Option(8, "--frames", min=1, help="Frames per training video."),
    score_frames: int = typer.Option(40, "--score-frames", min=1, help="Frames per video when scoring."),
    margin: float = typer.Option(0.3, "--margin", min=0, help="Face box margin (0.3: 30%)."),
    image_size: int = typer.Option(224, "--image-size", min=16,
                                   help="From-scratch models only (a --base brings its own)."),
    leave_out: Optional[str] = typer.Option(None, "--leave-out", help="Train without this fake type or backend."),
    center_fallback: bool = typer.Option(False, "--center-fallback", help="No face: use centre crops."),
    fallback_label: int = typer.Option(0, "--fallback-label", min=0, max=1,
                                       help="Label given to a file with no face and no fallback crop."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the split, the shuffling and the initialisation."),
    workers: int = DECODE_WORKERS,
    device: str = DEVICE,
    fp16: bool = FP16,
    quiet: bool = QUIET,
    recipe: Optional[Path] = typer.Option(None, "--recipe", help="A packaged detector recipe by name "
                                          "(small_cnn_cpu) or a JSON file: architecture, augmentations, "
                                          "training flags."),
):
    """Fine-tune a ViT (or a recipe's small network from scratch) on the train split, choose the threshold on
    val, save the model folder. Without --base the CPU recipe residual_stats_media_noise_cpu sets epochs, lr,
    frames and score frames (10, 0.01, 16, 16); the defaults shown below apply with --base or where a flag is
    given."""
    from synthfake.detector.train import TrainOptions, train

    from synthfake.detector.train import DEFAULT_RECIPE, RECIPE_ONLY, augment_settings, check_recipe_only

    v = dict(base=base, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr, frames=frames,
             score_frames=score_frames, margin=margin, center_fallback=center_fallback,
             fallback_label=fallback_label, seed=seed, **RECIPE_ONLY)
    if recipe is None and base is None:  # no checkpoint: the CPU recipe that learns (the tiny ViT is --recipe's)
        recipe = DEFAULT_RECIPE
        if not quiet:
            _note(f"no --base: training {DEFAULT_RECIPE.name} from scratch (see its 'why'); flags given win")
    if recipe is not None:
        from synthfake.recipe import apply_recipe, read_recipe

        v = apply_recipe(ctx, v, read_recipe(recipe, set(v) - {"base"}, "detector"), recipe)
        check_recipe_only(v, recipe)
        for key in ("model", "augment"):
            if v[key] is not None and not isinstance(v[key], dict):
                raise SynthfakeError(f"{recipe}: {key}: expected a JSON object of settings, got {v[key]!r}")
        try:
            augment_settings(v["augment"])  # checked now, not once the crops are made
        except SynthfakeError as e:
            raise SynthfakeError(f"{recipe}: {e}") from None
        if base is not None and v["model"] is not None:  # it would be recorded as trained, and never built
            raise SynthfakeError(f"{recipe}: model {v['model'].get('type', v['model'])!r}: --base {base} brings its "
                                 f"own model; drop --base to train the recipe's, or use a recipe without 'model'")
        if base is None and v["model"] is not None:  # an unknown key (a typo) now, not once the data is read
            from synthfake.detector.model import scratch_config

            try:
                scratch_config(v["model"], v["image_size"])
            except SynthfakeError as e:
                raise SynthfakeError(f"{recipe}: {e}") from None
        if base is None and v["model"] is None:  # a recipe is whole: without 'model' it trains the tiny ViT
            say(f"WARN: {recipe} names no 'model': training the tiny ViT meant for smoke runs (it does not learn on "
                f"a CPU budget); to change a value of the default, copy {DEFAULT_RECIPE} and edit it")
    if v["lr"] is not None:
        flag = ctx.get_parameter_source("lr").name not in ("DEFAULT", "DEFAULT_MAP")
        checks.number(v["lr"], "--lr" if flag or recipe is None else f"{recipe}: lr", above=0)
    checks.output_dir(out_dir, "--out", {"DATASET": dataset, "--base": base})  # before any training: model files
    # never go into the dataset, nor over the checkpoint they start from (it had been replaced without a word)
    opts = TrainOptions(**v, leave_out=leave_out, workers=workers, device=device, fp16=fp16, show=not quiet)
    from synthfake.export.reader import as_dataset  # a webdataset or hf export trains without its source folder

    meta = train(as_dataset(dataset, _note), out_dir, opts, log=_note)
    out.print(f"saved {out_dir}: fake class {meta.fake_index} ({meta.fake_label}), threshold {meta.threshold:.4f}, "
              f"{meta.train_crops} training crops", highlight=False)
    next_steps(out, quiet, f"gen detect eval {out_dir} {dataset}",
               f"gen detect predict {out_dir} INPUT_DIR --out submission.csv")


@detect_app.command("predict")
@one_line_errors
def detect_predict(
    model_dir: Path = MODEL_DIR,
    input_dir: Path = typer.Argument(..., help="Folder of images and videos to score."),
    out_csv: Path = typer.Option(Path("submission.csv"), "--out", help="Submission CSV to write."),
    sample_submission: Optional[Path] = typer.Option(None, "--sample-submission", help="Follow its columns and rows. "
                                                     "A file with no face crop (or listed but missing) gets the "
                                                     "model's fallback label in a label column, 0.5 in a "
                                                     "probability column (DFDC's 0.5 in every row asks for one)."),
    batch_size: int = SCORE_BATCH,
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Frames per video (default: the model's)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0, max=1,
                                              help="Override the saved threshold."),
    fake_share: Optional[float] = typer.Option(None, "--fake-share", help="Label at the threshold "
                                               "that calls this share (between 0 and 1, both excluded) of the "
                                               "scored files fake (e.g. 0.5 for a "
                                               "test set about half fake), not the saved one: scores of new people "
                                               "and generators shift (README, Detector)."),
    workers: int = DECODE_WORKERS,
    device: str = DEVICE,
    fp16: bool = FP16,
    runtime: str = typer.Option("auto", "--runtime", help="auto (onnx on CPU, torch on CUDA) | onnx | torch."),
    int8: Optional[bool] = typer.Option(None, "--int8/--fp32", help="The int8 ONNX made by `gen detect export "
                                        "--int8` / the fp32 one. Default: int8 on CPU when its val check passed.",
                                        show_default=False),
    quiet: bool = QUIET,
):
    """Score every image and video under INPUT_DIR; write the submission and a per-file probability CSV."""
    from synthfake.detector.predict import predict, probs_path

    files = {"--sample-submission": sample_submission, "MODEL_DIR": model_dir}  # a file or folder it would change
    checks.output_file(out_csv, "--out", files)  # before scoring: a folder or an unwritable place is refused now
    checks.output_file(probs_path(out_csv), "--out (its _probs.csv)", files)
    s = predict(model_dir, input_dir, out_csv, sample_submission, batch_size, device, fp16, workers, frames,
                threshold, show=not quiet, log=_note, runtime=runtime, int8=int8, fake_share=fake_share,
                say_skipped=True)
    got = f" (written as {s.fallback})" if s.fallbacks or s.missing else ""
    out.print(f"wrote {out_csv} and {probs_path(out_csv)}: {s.files} file(s) scored, {s.fallbacks} fallback(s), "
              f"{len(s.missing)} listed but missing{got}, threshold {s.threshold:.4f}", highlight=False)


@detect_app.command("export")
@one_line_errors
def detect_export(
    model_dir: Path = MODEL_DIR,
    int8: bool = typer.Option(False, "--int8", help="Also an int8 copy, checked on DATASET's val split (`predict` "
                              "uses it by default when its macro F1 stays within tolerance)."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="Dataset made by `gen run`, or its "
                                           "webdataset/hf export, whose val split checks the int8 copy."),
    workers: int = DECODE_WORKERS,
):
    """Write MODEL_DIR/model.onnx (checked against torch within 1e-5) for scoring without torch."""
    from synthfake.detector.onnx_export import export_dir
    from synthfake.detector.quantize import quantize_int8

    if int8 and dataset is None:
        raise typer.BadParameter("--int8 needs --dataset (its val split checks the int8 model's accuracy)")
    if dataset is not None and not int8:
        raise typer.BadParameter("--dataset: checks the int8 copy only; add --int8 or drop it")
    checks.output_file(model_dir / "model.onnx", "MODEL_DIR")
    if int8:  # the dataset's val split is checked before the export, not after it
        from synthfake.detector.evaluate import split_records
        from synthfake.export.reader import as_dataset  # a webdataset or hf export, as `detect train` reads it

        if not split_records(as_dataset(dataset, _note), "val"):
            raise SynthfakeError(f"{dataset}: no records in its val split, which checks the int8 copy's accuracy")
    export_dir(model_dir, log=_note)
    if int8:
        quantize_int8(model_dir, dataset, workers=workers, log=_note)
    out.print(f"wrote {model_dir / 'model.onnx'}" + (" and model.int8.onnx" if int8 else ""), highlight=False)


@detect_app.command("eval")
@one_line_errors
def detect_eval(
    model_dir: Path = typer.Argument(..., help="Model folder made by `gen detect train`."),
    dataset: Path = typer.Argument(..., help="Dataset made by `gen run`, or its webdataset/hf export (as `gen "
                                 "detect train` takes it), or any folder with --labels."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="CSV path,label[,kind,model] (paths relative to "
                                          "the folder): evaluate a labelled folder that is not a dataset."),
    split: str = typer.Option("test", "--split", help="Split of the dataset to score (train, val, test; all: "
                              "every file, for a dataset made from people the model never saw)."),
    leave_out: Optional[str] = typer.Option(None, "--leave-out",
                                            help="Reals + only this held-out type/backend (model trained without it)."),
    batch_size: int = SCORE_BATCH,
    workers: int = DECODE_WORKERS,
    device: str = DEVICE,
    fp16: bool = FP16,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON."),
    quiet: bool = QUIET,
    equalise: bool = typer.Option(False, "--equalise", help="With --labels: also score every listed file re-encoded "
                                  "by one writer (images 512 px short side JPEG q90; videos 360 px, 10 s, H.264 CRF "
                                  "23, no audio), so format, size, bitrate and audio say nothing of the label."),
    equalise_cache: Optional[Path] = typer.Option(None, "--equalise-cache", help="Folder of the equalised copies "
                                                  "(default: equalised-KEY beside the labels CSV, or beside the folder "
                                                  "when the CSV is inside it)."),
    unseen: bool = typer.Option(False, "--unseen", help="Leave out what the model saw in training: a listed file "
                                "byte for byte a picture or clip behind its train or val split, or a dataset's "
                                "record made from one (detector.json seen_sources)."),
):
    """Macro F1 (Fake positive), per-class F1, confusion matrix, recall per type and backend, ROC AUC; with
    --labels: ROC AUC (overall, per kind, per media), macro F1 at the saved and best thresholds, recall per kind
    and model, 95 % bootstrap."""
    from synthfake.detector.evaluate import evaluate
    from synthfake.detector.metrics import tables

    checks.output_file(json_out, "--json", {"MODEL_DIR": model_dir, "DATASET": dataset, "--labels": labels})
    if equalise and labels is None:
        raise SynthfakeError("--equalise needs --labels (it re-encodes the files a labels CSV lists)")
    if equalise_cache is not None and not equalise:  # it would be ignored, and the user think the copies scored
        raise SynthfakeError("--equalise-cache: applies with --equalise only (where its copies go); add --equalise or "
                             "drop it")
    _check_dataset_or_labels(dataset, labels)
    if labels is not None and equalise:
        from synthfake.detector.equalise import EqualiseSettings
        from synthfake.detector.equalised_eval import comparison_table, evaluate_equalised
        from synthfake.detector.external import external_tables

        s = EqualiseSettings()
        reps = evaluate_equalised(model_dir, dataset, labels, s, equalise_cache, batch_size, device, fp16, workers,
                                  not quiet, _note, unseen)
        _report([*external_tables(reps["equalised"], f"{model_dir} on {dataset} ({labels}), equalised"),
                 comparison_table(reps, f"{model_dir} on {dataset}: as found and equalised ({s})")],
                json_out, lambda: {"settings": s.__dict__, **{k: r.as_dict() for k, r in reps.items()}})
        return
    if labels is not None:
        from synthfake.detector.external import evaluate_external, external_tables

        ext = evaluate_external(model_dir, dataset, labels, batch_size, device, fp16, workers, not quiet, _note,
                                unseen)
        _report(external_tables(ext, f"{model_dir} on {dataset} ({labels})"), json_out, ext.as_dict)
        return
    rep, _, _ = evaluate(model_dir, dataset, split, leave_out, batch_size, device, fp16, workers, show=not quiet,
                         log=_note, unseen=unseen)
    _report(tables(rep, f"{model_dir} on {dataset} [{split}]" + (f", held out: {leave_out}" if leave_out else "")),
            json_out, rep.as_dict)
