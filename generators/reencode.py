"""Reals (label 0): the source clip or photo re-encoded through the very writer the fakes use.

Same codec, container, fps, resolution policy and audio handling as every fake, so that the only
difference between a real and its paired fake is the manipulation. A real paired with a fake that is an image
of a clip (the plan's `still`: a latent_decode reconstruction of a video frame) is that very frame, as an image.
"""

from __future__ import annotations

from synthfake import media
from synthfake.generators import Context, Generated
from synthfake.writer import save_image, save_video

TYPE = "real"
VERSION = "1.4"  # 1.1: a real without a fake takes the image finish every image-making fake backend declares;
# 1.2: a real whose fake is an image of its clip is that still (plan version 6); 1.3: an image scaled to its
# fake's working size (`max_side`, plan version 7) by the rule the fake's base was (`media.fit_within`); 1.4: the
# still at the point of its clip its fake's plan drew (`still_at`, plan version 8)



def generate(sample, sources, out_stem, ctx: Context) -> Generated:
    src = sources[0]
    side = sample.params.get("max_side")
    scaled = (lambda rgb: media.fit_within(rgb, side)) if side else (lambda rgb: rgb)
    if src.item.kind == "image":
        return Generated(save_image(out_stem, scaled(media.read_image(src.path))), {"writer": "png"}, 1, 0)
    start, n = sample.params["clip_start"], sample.params["clip_frames"]
    if sample.params.get("still"):
        k = src.clip_still(start, n, sample.params.get("still_at"))
        return Generated(save_image(out_stem, scaled(src.frame(k))), {"writer": "png", "source_frame": k}, 1, 0)
    fps = media.video_fps(src.path)
    audio = media.read_audio_of_video(src.path, start / fps, n / fps)
    path, written = save_video(out_stem, media.iter_frames(src.path, start, n), fps, audio, expected=n,
                               source=src.item.path)
    return Generated(path, {"writer": "h264_mp4"}, written, 0)
