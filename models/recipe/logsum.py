"""Markdown table of a training log (work/ckpt/log.jsonl): training loss per sigma band
(mean of the logged windows since the previous row) and the EMA validation loss.

  python logsum.py work/ckpt/log.jsonl [rows]
"""
import json
import sys

import numpy as np


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "work/ckpt/log.jsonl"
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    recs = [json.loads(l) for l in open(path)]
    vals = [r for r in recs if "val" in r]
    train = [r for r in recs if "loss" in r]
    keep = [vals[int(i)] for i in np.unique(np.linspace(0, len(vals) - 1, min(rows, len(vals))).round())]
    bands = list(train[0]["loss"])
    sig = list(keep[0]["val"])
    print("| step | wall (min) | " + " | ".join(f"train σ {b}" for b in bands) + " | " + " | ".join(f"val σ={s}" for s in sig) + " |")
    print("|" + "---|" * (2 + len(bands) + len(sig)))
    prev = 0
    for v in keep:
        win = [t for t in train if prev < t["step"] <= v["step"]][-20:]  # the last ~1000 steps before it
        tl = [np.mean([t["loss"][b] for t in win if t["loss"][b] is not None] or [np.nan]) for b in bands]
        print(f"| {v['step']} | {v['wall_min']:.0f} | " + " | ".join(f"{x:.3f}" for x in tl) + " | "
              + " | ".join(f"{v['val'][s]:.3f}" for s in sig) + " |")
        prev = v["step"]


if __name__ == "__main__":
    main()
