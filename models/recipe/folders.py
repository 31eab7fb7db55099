"""Writes a rendered 16 kHz split (work/data/<split>/*.npy) as evaluation folders
<out>/<song>/{mix,bass,drums,guitar,piano}.wav (float WAV, the model's rate, mono),
the layout `gmsdi eval separation --data` reads. From models/recipe/:

    python folders.py --split work/data/val --out work/val16k
"""
import argparse
import glob
import os

import numpy as np
import soundfile as sf

from songs import STEMS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="work/data/val")
    ap.add_argument("--out", default="work/val16k")
    ap.add_argument("--sr", type=int, default=16000)
    args = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(args.split, "*.npy")))
    for path in paths:
        stems = np.load(path).astype(np.float32) / 32768.0
        folder = os.path.join(args.out, os.path.basename(path)[:-4])
        os.makedirs(folder, exist_ok=True)
        for stem, x in zip(STEMS, stems):
            sf.write(os.path.join(folder, f"{stem}.wav"), x, args.sr, subtype="FLOAT")
        sf.write(os.path.join(folder, "mix.wav"), stems.sum(0), args.sr, subtype="FLOAT")
    print(f"wrote {len(paths)} folders to {args.out}")


if __name__ == "__main__":
    main()
