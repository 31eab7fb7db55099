"""Separation metrics with the MSDM protocol (docs/method.md §4) and classic references.

Test data layout: <root>/<track>/mix.wav + <track>/{bass,drums,guitar,piano}.wav.
Estimates: <est>/<track>/<stem>.wav (any rate/channels: compared after resampling to the
reference rate and matching channels).

  python evaluate.py --ref work/test44k --est path/to/estimates   # a model's SI-SDRi table
  python evaluate.py --ref work/test44k --baseline irm           # ideal ratio mask (upper ref.)
  python evaluate.py --ref work/test44k --baseline hpss          # classic HPSS baseline
  python evaluate.py --ref work/test44k --baseline mixture       # 0 dB by definition
"""
import argparse
import json
import os

import numpy as np
import soundfile as sf
from scipy import ndimage, signal

STEMS = ["bass", "drums", "guitar", "piano"]


def si_sdr(p, t, eps=1e-8):
    a = (p @ t + eps) / (t @ t + eps)
    return 10 * np.log10(((a * t) ** 2).sum() + eps) - 10 * np.log10(((a * t - p) ** 2).sum() + eps)


def windowed_si_sdri(est, ref, mix, sr, win_s=4.0, hop_s=2.0, silence=1.5e-5):
    """est/ref: {stem: mono float array}; returns {stem: [SI-SDRi per kept window]}."""
    win, hop = int(win_s * sr), int(hop_s * sr)
    out = {s: [] for s in ref}
    for start in range(0, len(mix) - win + 1, hop):
        sl = slice(start, start + win)
        loud = [s for s in ref if np.linalg.norm(ref[s][sl]) / win >= silence]
        if len(loud) <= 1:
            continue
        for s in ref:
            out[s].append(si_sdr(est[s][sl], ref[s][sl]) - si_sdr(mix[sl], ref[s][sl]))
    return out


def stft(x, sr):
    return signal.stft(x, sr, nperseg=2048, noverlap=1536)[2]


def istft(z, sr, n):
    return signal.istft(z, sr, nperseg=2048, noverlap=1536)[1][:n]


def baseline(kind, mix, ref, sr):
    n = len(mix)
    if kind == "mixture":
        return {s: mix.copy() for s in ref}
    zm = stft(mix, sr)
    if kind == "irm":  # ideal ratio (power) mask from the true stems
        p = {s: np.abs(stft(ref[s], sr)) ** 2 for s in ref}
        tot = sum(p.values()) + 1e-12
        return {s: istft(zm * p[s] / tot, sr, n) for s in ref}
    if kind == "hpss":  # median-filter HPSS: drums = percussive; bass = harmonic < 300 Hz; others share harmonic > 300 Hz
        mag = np.abs(zm)
        h = ndimage.median_filter(mag, size=(1, 17))
        pc = ndimage.median_filter(mag, size=(17, 1))
        mh = h**2 / (h**2 + pc**2 + 1e-12)
        freqs = np.fft.rfftfreq(2048, 1 / sr)[:, None]
        low = (freqs < 300).astype(float)
        harm_high = istft(zm * mh * (1 - low), sr, n)
        return {"bass": istft(zm * mh * low, sr, n), "drums": istft(zm * (1 - mh), sr, n),
                "guitar": harm_high * 0.5, "piano": harm_high * 0.5}
    raise ValueError(kind)


def read_mono(path, sr=None):
    x, r = sf.read(path, dtype="float32", always_2d=True)
    return x, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True)
    ap.add_argument("--est")
    ap.add_argument("--baseline", choices=["mixture", "irm", "hpss"])
    ap.add_argument("--tracks", type=int, default=None, help="first N tracks only")
    ap.add_argument("--max-seconds", type=float, default=None, help="first S seconds of each track only")
    ap.add_argument("--downmix", action="store_true",
                    help="score the channels' mean, as `gmsdi eval separation` does, instead of every channel")
    ap.add_argument("--json", help="write the table here")
    args = ap.parse_args()
    tracks = sorted(d for d in os.listdir(args.ref) if os.path.isfile(os.path.join(args.ref, d, "mix.wav")))
    tracks = tracks[: args.tracks] if args.tracks else tracks
    scores = {s: [] for s in STEMS}
    def shaped(x, sr):
        x = x[: int(round(args.max_seconds * sr))] if args.max_seconds else x
        return x.mean(axis=1, keepdims=True) if args.downmix else x

    for tr in tracks:
        mix, sr = read_mono(os.path.join(args.ref, tr, "mix.wav"))
        mix = shaped(mix, sr)
        ref = {s: shaped(read_mono(os.path.join(args.ref, tr, f"{s}.wav"))[0], sr) for s in STEMS}
        for ch in range(mix.shape[1]):  # every channel is scored as its own signal
            r = {s: ref[s][:, ch] for s in STEMS}
            m = mix[:, ch]
            if args.baseline:
                est = baseline(args.baseline, m, r, sr)
            else:
                est = {}
                for s in STEMS:
                    e, er = read_mono(os.path.join(args.est, tr, f"{s}.wav"))
                    e = shaped(e, er)
                    e = e[:, min(ch, e.shape[1] - 1)]
                    if er != sr:
                        e = signal.resample_poly(e, sr, er)
                    est[s] = np.pad(e, (0, max(0, len(m) - len(e))))[: len(m)]
            for s, v in windowed_si_sdri(est, r, m, sr).items():
                scores[s].extend(v)
    table = {s: round(float(np.mean(v)), 2) if v else None for s, v in scores.items()}
    table["All"] = round(float(np.mean([v for v in table.values() if v is not None])), 2)
    table["windows"] = len(scores[STEMS[0]])
    print(json.dumps(table))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1)


if __name__ == "__main__":
    main()
