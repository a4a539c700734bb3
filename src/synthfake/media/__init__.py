"""Media I/O: images (OpenCV), video decode/encode (PyAV, H.264 yuv420p, AAC), audio (soundfile).

Every failure to read is a `MediaError(path, reason)`. Frames are RGB uint8 arrays (H, W, 3); audio is float32
(samples, channels) with its sample rate. `from synthfake import media` gives every public name below.
"""

from .audio import mux_audio, read_audio, read_audio_of_video
from .container import AUDIO_EXTS, IMAGE_EXTS, VIDEO_EXTS, count_packets, is_mac_leftover, kind_of
from .encode import VIDEO_CRF, VIDEO_PRESET, write_video
from .frames import frames_of, iter_frames, iter_frames_at, read_frames, uniform_indices, upright
from .image import encode_png, fit_within, image_frames, read_image, write_png
from .probe import probe, variable_frame_rate, video_colour, video_fps, video_rotation, video_sar

__all__ = ["AUDIO_EXTS", "IMAGE_EXTS", "VIDEO_CRF", "VIDEO_EXTS", "VIDEO_PRESET", "count_packets", "encode_png",
           "fit_within", "frames_of", "image_frames", "is_mac_leftover", "iter_frames", "iter_frames_at", "kind_of",
           "mux_audio", "probe", "read_audio",
           "read_audio_of_video", "read_frames", "read_image", "uniform_indices", "upright", "variable_frame_rate",
           "video_colour", "video_fps", "video_rotation", "video_sar", "write_png", "write_video"]
