"""New speech for a lip-sync fake, shaped like the audio of the clip it replaces, so that only the voice differs.

A real talking-head clip's audio and a speech recording differ in ways no lip-sync model causes: length, level,
stereo image, sample rate. `dub` gives the fake the speech at the target clip's audio length, sample rate and
channels, at its RMS level (peaks limited smoothly, not clipped; a silent target gives digital silence, as its
real has), with its stereo width
(the side signal made from the speech by all-pass decorrelation, scaled so that RMS(L-R) / RMS(L+R) is the
target's). The bandwidth is the pair's: the writer band-limits the fake and its real alike (synthfake.finish).
"""

from __future__ import annotations

from math import gcd

import numpy as np

PAUSE_S = 0.3  # between repeats of a speech recording shorter than the clip
ALLPASS = (0.6, -0.45, 0.3)  # first-order all-pass coefficients of the decorrelator (a fixed phase scramble)


def tiled(data: np.ndarray, rate: int, start: int, n: int) -> np.ndarray:
    """n samples of `data` from `start`, the recording repeated after a PAUSE_S silence when it runs out."""
    pause = np.zeros((int(PAUSE_S * rate), data.shape[1]), np.float32)
    out, pos = [], start
    while sum(len(o) for o in out) < n:
        out.append(data[pos:])
        out.append(pause)
        pos = 0
    return np.concatenate(out)[:n]


def resample(data: np.ndarray, rate: int, to: int) -> np.ndarray:
    if rate == to:
        return data.astype(np.float32)
    from scipy.signal import resample_poly  # imported only when needed: 1.5 s a process

    g = gcd(int(rate), int(to))
    return resample_poly(data, to // g, rate // g, axis=0).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def limited(x: np.ndarray, knee: float = 0.8) -> np.ndarray:
    """x with peaks above `knee` bent smoothly towards 1 (tanh), not clipped: a loud voice stays a voice."""
    a = np.abs(x)
    over = a > knee
    out = x.copy()
    out[over] = np.sign(x[over]) * (knee + (1 - knee) * np.tanh((a[over] - knee) / (1 - knee)))
    return out


def width(data: np.ndarray) -> float:
    """RMS(L - R) / RMS(L + R): 0 for mono or dual mono."""
    if data.shape[1] < 2:
        return 0.0
    mid = rms(data[:, 0] + data[:, 1])
    return rms(data[:, 0] - data[:, 1]) / mid if mid > 0 else 0.0


def decorrelated(mono: np.ndarray) -> np.ndarray:
    """The signal through a cascade of first-order all-pass filters: the same spectrum, scrambled phase."""
    from scipy.signal import lfilter

    y = mono.astype(np.float64)
    for a in ALLPASS:
        y = lfilter([a, 1.0], [1.0, a], y)
    return y


def dub(speech: np.ndarray, speech_rate: int, target: tuple[np.ndarray, int]) -> tuple[tuple[np.ndarray, int], dict]:
    """The speech (mono float, at speech_rate, at least as long as needed) shaped like the target clip's audio
    (samples, channels) at its rate: same length, channels, RMS and stereo width. Returns (audio, what was matched)."""
    t_data, t_rate = target
    n = len(t_data)
    mono = resample(speech[:, None], speech_rate, t_rate)[:, 0]
    if len(mono) < n:
        mono = np.concatenate([mono, np.zeros(n - len(mono), np.float32)])
    mono = mono[:n].astype(np.float64)
    level, own = rms(t_data.mean(1)), rms(mono)
    gain = level / own if own > 0 else 0.0
    for _ in range(3):  # a loud target: peaks are limited, and the gain raised for what the limiter took
        loud = limited(mono * gain)
        gain *= level / rms(loud) if rms(loud) > 0 else 1.0
    mono = limited(mono * gain)
    w = width(t_data)
    if t_data.shape[1] == 2:
        side = decorrelated(mono)
        side *= (rms(mono) / rms(side)) if rms(side) > 0 else 0.0
        out = np.stack([mono + w * side, mono - w * side], 1)
    else:
        out = mono[:, None]
    info = {"samples": n, "rate": int(t_rate), "channels": int(t_data.shape[1]),
            "level_dbfs": round(20 * np.log10(max(level, 1e-9)), 2), "stereo_width": round(w, 4)}
    return (np.clip(out, -1.0, 1.0).astype(np.float32), t_rate), info
