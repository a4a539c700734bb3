"""DeepfakeBench: the folders its preprocessing writes and the dataset JSON its rearrange step writes.

Checked against SCLBD/DeepfakeBench 8a4a7bf5 (preprocessing/rearrange.py, training/dataset/abstract_dataset.py):

    synthfake/<label>/frames/<video>/NNN.png        aligned 256x256 faces (dfb_crop.py)
    synthfake/<label>/landmarks/<video>/NNN.npy     (68, 2) int landmarks of the crop
    dataset_json/synthfake.json                     {name: {label: {train|val|test: {video: {label, frames[, masks]}}}}}
    dataset_json/synthfake-<type>.json              reals + one fake type, as rearrange writes FF-DF.json etc.
    dataset_json/synthfake-video.json               the clips alone, for its video-level detectors (a photo is a
                                                    1-frame video, which they skip)

The dataset class reads `dataset_info[name][label][mode]` and indexes a compression level only for the
FaceForensics++ names, so our (non-FF) names carry none; the compression our videos correspond to is in
export.json. It finds a frame's landmark and mask by replacing 'frames' in the frame path, so no other part of
a path may contain 'frames'. A path not starting with '.' gets `./{rgb_dir}\\` prepended (a Windows separator),
so the JSON holds paths starting with `./datasets/rgb/`, relative to the DeepfakeBench checkout. Fakes carry
`masks: []` as rearrange writes when a method has no mask folder (we have no masks: use with_mask: false).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from synthfake.errors import MediaError
from synthfake.files import write_bytes_atomic, write_json_atomic
from synthfake.pools import process_pool
from synthfake.progress import sample_progress

from .common import COMPRESSION, SPLITS, Item, Options, Result
from .dfb_crop import aligned_faces, sampled_frames

VERSION = "2"  # 2: synthfake-video.json; the README says where lmdb and label_dict must go
SETTINGS = ("frames",)  # the Options fields this format reads; no ready(): the core install (dlib) is enough



NAME = "synthfake"
PREFIX = "./datasets/rgb"  # where the README tells users to put the exported `synthfake/` folder


def label_name(record_type: str) -> str:
    return "SF-real" if record_type == "real" else f"SF-{record_type}"


def write_video(it: Item, label_dir: Path, num_frames: int) -> list[str]:
    """Crop the sampled frames of one record into frames/ and landmarks/ (each renamed into place when whole);
    returns the frame file names. A resumed export reuses a video whose two folders are there."""
    vid = it.record.id
    frames_dir, lm_dir = label_dir / "frames" / vid, label_dir / "landmarks" / vid
    if frames_dir.is_dir() and lm_dir.is_dir():
        return sorted(p.name for p in frames_dir.glob("*.png"))
    for d in ("frames", "landmarks"):  # what a killed export left of this video (any process): never whole
        for stale in (label_dir / d).glob(f".{vid}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(lm_dir, ignore_errors=True)  # landmarks renamed, frames not: killed between the two renames
    tmp_f, tmp_l = (label_dir / d / f".{vid}.{os.getpid()}.tmp" for d in ("frames", "landmarks"))
    for d in (tmp_f, tmp_l):
        d.mkdir(parents=True)
    names = []
    m = it.record.media
    for idx, crop, lm in aligned_faces(sampled_frames(it.media, m.kind, m.frames, num_frames)):
        name = f"{idx:03d}"
        if not cv2.imwrite(str(tmp_f / f"{name}.png"), crop):
            raise MediaError(tmp_f / f"{name}.png", "could not write the PNG")
        np.save(tmp_l / f"{name}.npy", lm)
        names.append(f"{name}.png")
    if not names:
        shutil.rmtree(tmp_f)
        shutil.rmtree(tmp_l)
        return []
    os.replace(tmp_l, lm_dir)  # landmarks first: a frames folder present means both are whole
    os.replace(tmp_f, frames_dir)
    return names


def dataset_json(name: str, videos: dict[str, dict[str, dict]]) -> dict:
    """{name: {label: {split: {video: entry}}}} with train/val/test (and any other split of ours) for every label."""
    splits = sorted(set(SPLITS) | {s for by_split in videos.values() for s in by_split})
    return {name: {label: {s: dict(sorted(by_split.get(s, {}).items())) for s in splits}
                   for label, by_split in sorted(videos.items())}}


def _crop_job(job: tuple[Item, Path, int]) -> tuple[list[str], str]:
    """(frame names, why none) for one record; runs in a worker process when --workers > 1."""
    it, label_dir, frames = job
    try:
        return write_video(it, label_dir, frames), "no face found in any sampled frame"
    except MediaError as e:
        return [], f"unreadable media ({e})"


def _results(items: list[Item], root: Path, o: Options):
    jobs = [(it, root / label_name(it.record.type), o.frames) for it in items]
    if o.workers <= 1:
        yield from map(_crop_job, jobs)
        return
    with process_pool(o.workers, __name__) as pool:
        yield from pool.map(_crop_job, jobs)


def export(items: list[Item], out: Path, o: Options, res: Result) -> dict:
    root = out / NAME
    videos: dict[str, dict[str, dict]] = {}  # label -> split -> video -> entry
    clips: dict[str, dict[str, dict]] = {}  # the same for the records that are videos
    with sample_progress(len(items), "deepfakebench crops", o.show) as advance:
        for it, (names, why) in zip(items, _results(items, root, o)):
            r = it.record
            label = label_name(r.type)
            advance()
            if not names:
                line = f"skipped {r.path} (id {r.id}): {why}"
                res.skipped.append(line)
                o.log(line)
                continue
            entry = {"label": label, "frames": [f"{PREFIX}/{NAME}/{label}/frames/{r.id}/{n}" for n in names]}
            if r.label == 1:
                entry["masks"] = []
            videos.setdefault(label, {}).setdefault(r.split, {})[r.id] = entry
            if r.media.kind == "video":
                clips.setdefault(label, {}).setdefault(r.split, {})[r.id] = entry
            res.exported += 1
    write_json_atomic(out / "dataset_json" / f"{NAME}.json", dataset_json(NAME, videos))
    write_json_atomic(out / "dataset_json" / f"{NAME}-video.json", dataset_json(f"{NAME}-video", clips))
    for label in sorted(videos):
        if label != "SF-real" and "SF-real" in videos:
            sub = f"{NAME}-{label[3:]}"
            write_json_atomic(out / "dataset_json" / f"{sub}.json",
                              dataset_json(sub, {"SF-real": videos["SF-real"], label: videos[label]}))
    write_bytes_atomic(out / "README.md", readme(sorted(videos), o.frames).encode())
    return {"compression": COMPRESSION, "labels": sorted(videos), "frames_per_video": o.frames}


def readme(labels: list[str], frames: int) -> str:
    label_dict = "\n".join(f"  {lb}: {0 if lb == 'SF-real' else 1}" for lb in labels)
    subsets = ", ".join(f"{NAME}-{lb[3:]}" for lb in labels if lb != "SF-real")
    return f"""# synthfake export for DeepfakeBench

Made by `gen export --format deepfakebench` to match SCLBD/DeepfakeBench 8a4a7bf5 (preprocess.py, rearrange.py,
training/dataset/abstract_dataset.py): {frames} frames per video (fixed_num_frames), faces aligned to 256x256
with a 1.3 margin, dlib's 68 landmarks beside each frame (fitted on the frame, mapped into the crop).

1. Copy or link `{NAME}/` to `DeepfakeBench/datasets/rgb/{NAME}/` (the JSON paths start with `{PREFIX}/`; run
   training from the DeepfakeBench root).
2. Copy `dataset_json/*.json` to the folder your config's `dataset_json_folder` names
   (default `./preprocessing/dataset_json`).
3. In `training/config/train_config.yaml` and `training/config/test_config.yaml` set `lmdb: false` (they ship
   `lmdb: True`; train.py and test.py read them after the detector's config, so their value wins, and with lmdb
   on the dataset JSON is looked for in `preprocessing/dataset_json_v3`: "dataset {NAME} not exist!"), and add to
   their `label_dict`:

```yaml
label_dict:
{label_dict}
```
   A detector whose own config has a `label_dict` (lrl, lsda, sia, tall, ucf at 8a4a7bf5) uses that one instead:
   add the lines there too ("Label SF-... is not found" otherwise). ucf's is multi-class (FF-DF 1 ... FF-NT 4):
   give each SF-<type> a class of its own there.
4. In the detector's config: `train_dataset: [{NAME}]` (or one type: {subsets}), `test_dataset: [{NAME}]`,
   `with_mask: false` (no masks are exported), `with_landmark` may be true but the landmarks have 68 points
   (DeepfakeBench's 81-point model adds 13 forehead points; methods that need those, such as SBI, do not fit),
   `frame_num` up to {frames}, `resolution: 256`. `compression` is not read for these names.
5. Video-level detectors (`video_mode: True`: altfreezing, ftcn, i3d, stil, tall, timetransformer, videomae,
   xclip, clip_size 4-32) skip every video with fewer frames than clip_size, and a photo here is a 1-frame video
   (a split of photos only then has nothing to load): use `{NAME}-video` (the clips alone) as their dataset, and
   export with `--frames` at least their clip_size.

Splits are synthfake's identity splits (train/val/test); labels: SF-real 0, every SF-<type> 1.
"""
