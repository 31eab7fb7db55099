"""Single-stem generation with and without negative prompts, through the gmsdi CLI.

For every stem of the model and every seed: `gmsdi generate --stems STEM` with the
model's negative prompts and again with `--negative-prompts false`. Prints per stem and
setting the share of non-silent clips (the MSDM silence rule: ||x||_2 / n >= 1.5e-5),
the median RMS, and the median share of energy below 300 Hz, beside the same share in
the test split's true stems (16 kHz, 4.096 s windows where the stem is audible).
Writes the table as JSON too. From models/recipe/:

    python genstats.py --gmsdi ../../target/release/gmsdi --model ../default \
        --test work/data/test --out work/genstats --seeds 4 --steps 20
"""

import argparse
import glob
import json
import os
import subprocess

import numpy as np
import soundfile as sf

STEMS = ["bass", "drums", "guitar", "piano"]
SR = 16000
SECONDS = 4.096
SILENCE = 1.5e-5


def low_share(x, hz=300.0):
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(p[f < hz].sum() / (p.sum() + 1e-20))


def silent(x):
    return float(np.sqrt((x**2).sum()) / len(x)) < SILENCE


def reference_shares(test_dir, per_song=4, seed=0):
    """Energy share below 300 Hz of true test stems, in windows where the stem is audible."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * SR)
    shares = {s: [] for s in STEMS}
    for path in sorted(glob.glob(os.path.join(test_dir, "*.npy"))):
        q = np.load(path).astype(np.float64) / 32768.0
        if q.shape[1] <= n:
            continue
        for _ in range(per_song):
            st = int(rng.integers(q.shape[1] - n))
            for k, s in enumerate(STEMS):
                x = q[k, st:st + n]
                if not silent(x) and np.sqrt((x**2).mean()) > 1e-3:
                    shares[s].append(low_share(x))
    return {s: float(np.median(v)) if v else None for s, v in shares.items()}


def generate(gmsdi, model, stem, seed, steps, negatives, out):
    wav = os.path.join(out, f"{stem}.wav")
    if not os.path.exists(wav):
        cmd = [gmsdi, "--model", model, "--threads", "1", "generate", "--stems", stem, "--seconds", str(SECONDS),
               "--rate", str(SR), "--seed", str(seed), "--steps", str(steps), "--negative-prompts",
               "true" if negatives else "false", "--out", out]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    x, sr = sf.read(wav, dtype="float64", always_2d=True)
    assert sr == SR, sr
    return x.mean(axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gmsdi", required=True)
    ap.add_argument("--model", default="../default")
    ap.add_argument("--test", default="work/data/test")
    ap.add_argument("--out", default="work/genstats")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    ref = reference_shares(args.test)
    rows = []
    for stem in STEMS:
        for negatives in (True, False):
            clips = [generate(args.gmsdi, args.model, stem, seed, args.steps, negatives,
                              os.path.join(args.out, f"{stem}-{'neg' if negatives else 'plain'}-{seed}"))
                     for seed in range(1, args.seeds + 1)]
            rows.append({
                "stem": stem,
                "negative_prompts": negatives,
                "non_silent": sum(not silent(x) for x in clips) / len(clips),
                "median_rms": float(np.median([np.sqrt((x**2).mean()) for x in clips])),
                "median_low300": float(np.median([low_share(x) for x in clips])),
                "test_low300": ref[stem],
            })
    print("| stem | negative prompts | non-silent | median RMS | energy < 300 Hz | test stems < 300 Hz |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        t = "–" if r["test_low300"] is None else f"{100 * r['test_low300']:.1f} %"
        print(f"| {r['stem']} | {'yes' if r['negative_prompts'] else 'no'} | {100 * r['non_silent']:.0f} % "
              f"| {r['median_rms']:.4f} | {100 * r['median_low300']:.1f} % | {t} |")
    with open(os.path.join(args.out, "genstats.json"), "w") as f:
        json.dump({"seeds": args.seeds, "steps": args.steps, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
