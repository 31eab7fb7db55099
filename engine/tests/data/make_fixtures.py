"""Writes the compressed test fixtures that no Rust crate at hand can encode.

Run once with Python 3, numpy and soundfile (libsndfile >= 1.1 for MP3):
    python3 make_fixtures.py
The signal is the one engine/tests/common/mod.rs rebuilds as `fixture_signal`:
channel c (from 0) is 0.4 sin(2 pi f t) + 0.2 sin(2 pi 3f t) with f = 220 (c + 1) Hz,
0.3 s long.
"""

import numpy as np
import soundfile as sf


def signal(rate, channels, seconds=0.3):
    t = np.arange(round(rate * seconds)) / rate
    cols = []
    for c in range(channels):
        f = 220.0 * (c + 1)
        cols.append(0.4 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 3 * f * t))
    return np.stack(cols, axis=1)


sf.write("sine_22050_stereo.flac", signal(22050, 2), 22050, format="FLAC", subtype="PCM_16")
sf.write("sine_44100_mono.mp3", signal(44100, 1), 44100, format="MP3", subtype="MPEG_LAYER_III")
sf.write("sine_44100_stereo.ogg", signal(44100, 2), 44100, format="OGG", subtype="VORBIS")
