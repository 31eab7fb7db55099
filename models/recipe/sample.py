"""Minimal Python GMSDI sampler on an exported model folder (ONNX Runtime), for checks
during training; the product's sampler is the Rust engine. Follows docs/method.md.

  python sample.py --model ../default            # extractor/separator SI-SDRi on validation windows + generation stats
  python sample.py --model ../default --grid     # embedding-scale grid (paper table 1) on validation windows
"""
import argparse
import glob
import json
import os
import time

import numpy as np

import textenc

STEMS = ["bass", "drums", "guitar", "piano"]


class Model:
    def __init__(self, folder, threads=1):
        import onnxruntime as ort

        self.m = json.load(open(os.path.join(folder, "model.json")))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(os.path.join(folder, self.m["denoiser"]), so, providers=["CPUExecutionProvider"])
        self.enc = textenc.Encoder(os.path.join(folder, self.m["text_encoder"]), os.path.join(folder, self.m["tokenizer"]))
        self.null = np.array(self.m["null_embedding"], np.float32)

    def embed(self, prompt):
        return self.null if prompt == "" else self.enc([prompt])[0]

    def denoise(self, x, sigma, emb):
        b = len(x)
        return self.sess.run(None, {"x": x[:, None].astype(np.float32), "sigma": np.full(b, sigma, np.float32),
                                    "embedding": np.asarray(emb, np.float32)})[0][:, 0]

    def d(self, x, sigma, emb, neg, w):
        """Guided d = (x - D*)/sigma with D* = D(z) + w (D(z) - D(z_neg)); one network call."""
        b = len(x)
        out = self.denoise(np.concatenate([x, x]), sigma, np.concatenate([emb, neg]))
        den = out[:b] + w * (out[:b] - out[b:])
        return (x - den) / sigma


def karras(n, smin, smax, rho=7.0):
    i = np.arange(n) / (n - 1)
    s = (smax ** (1 / rho) + i * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    return np.append(s, 0.0)


def euler(drift, x, sig, s_churn, rng):
    n = len(sig) - 1
    g = min(s_churn / n, np.sqrt(2) - 1)
    for i in range(n):
        sh = sig[i] * (1 + g)
        x = x + rng.standard_normal(x.shape) * np.sqrt(sh**2 - sig[i] ** 2)
        x = x + drift(x, sh) * (sig[i + 1] - sh)
    return x


def adpm2(drift, x, sig, rng):
    for i in range(len(sig) - 2):
        s, s1 = sig[i], sig[i + 1]
        up = s1 * np.sqrt(1 - s1**2 / s**2)
        down = s1**2 / s
        mid = (s + down) / 2
        xm = x + drift(x, s) * (mid - s)
        x = x + drift(xm, mid) * (down - s) + rng.standard_normal(x.shape) * up
    return np.clip(x, -1, 1)


def extract(model, y, k, w=7.5, steps=50, s_churn=20.0, negatives=True, seed=0):
    """Extractor (eq. 14): x_k free, complement y - x_k constrained."""
    rng = np.random.default_rng(seed)
    others = [s for s in STEMS if s != STEMS[k]]
    neg_k = model.embed(model.m["stems"][STEMS[k]]["negative"] if negatives else "")
    z = np.stack([model.embed(STEMS[k]), model.embed(", ".join(others))])
    negs = np.stack([neg_k, model.null])
    sig = karras(steps, model.m["sigma_min"], model.m["sigma_max"])

    def drift(x, s):
        dd = model.d(np.stack([x[0], y - x[0]]), s, z, negs, w)
        return (dd[0] - dd[1])[None]

    return euler(drift, sig[0] * rng.standard_normal((1, len(y))), sig, s_churn, rng)[0]


def separate(model, y, constrained=1, w=3.0, steps=50, s_churn=20.0, seed=0):
    """Separator (eq. 13): all stems but the constrained one are sampled."""
    rng = np.random.default_rng(seed)
    free = [k for k in range(len(STEMS)) if k != constrained]
    z = np.stack([model.embed(STEMS[k]) for k in free + [constrained]])
    negs = np.stack([model.null] * len(z))
    sig = karras(steps, model.m["sigma_min"], model.m["sigma_max"])

    def drift(x, s):
        dd = model.d(np.concatenate([x, (y - x.sum(0))[None]]), s, z, negs, w)
        return dd[:-1] - dd[-1]

    x = euler(drift, sig[0] * rng.standard_normal((len(free), len(y))), sig, s_churn, rng)
    out = np.zeros((len(STEMS), len(y)))
    out[free] = x
    out[constrained] = y - x.sum(0)
    return out


def generate(model, prompt, negative="", w=3.0, steps=50, n=65536, seed=0):
    rng = np.random.default_rng(seed)
    z, neg = model.embed(prompt)[None], model.embed(negative)[None]
    sig = karras(steps, model.m["sigma_min"], model.m["sigma_max"])
    return adpm2(lambda x, s: model.d(x, s, z, neg, w), sig[0] * rng.standard_normal((1, n)), sig, rng)[0]


def si_sdr(p, t, eps=1e-8):
    a = (p @ t + eps) / (t @ t + eps)
    return 10 * np.log10(((a * t) ** 2).sum() + eps) - 10 * np.log10(((a * t - p) ** 2).sum() + eps)


def low_share(x, sr, hz=300):
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(p[f < hz].sum() / (p.sum() + 1e-12))


def check(model, data, n_windows, steps, seed=0):
    """Extractor and separator SI-SDRi on validation windows, plus single-stem generation stats."""
    sr = model.m["sample_rate"]
    res = {s: [] for s in STEMS}
    sep = {s: [] for s in STEMS}
    t0 = time.time()
    for i, stems in enumerate(windows(model, data, n_windows, seed)):
        y = stems.sum(0)
        for k, s in enumerate(STEMS):
            e = extract(model, y, k, steps=steps, negatives=s in ("bass", "drums"), seed=seed + i)
            res[s].append(si_sdr(e, stems[k]) - si_sdr(y, stems[k]))
        est = separate(model, y, constrained=1, steps=steps, seed=seed + i)
        for k, s in enumerate(STEMS):
            sep[s].append(si_sdr(est[k], stems[k]) - si_sdr(y, stems[k]))
    gen = {}
    for s in STEMS:
        x = generate(model, s, model.m["stems"][s]["negative"], steps=steps, seed=seed)
        gen[s] = {"rms": round(float(np.sqrt((x**2).mean())), 4), "low300": round(low_share(x, sr), 3)}
    return {"extractor": {s: round(float(np.mean(v)), 2) for s, v in res.items()},
            "separator_drums": {s: round(float(np.mean(v)), 2) for s, v in sep.items()},
            "generate": gen, "windows": n_windows, "steps": steps, "seconds": round(time.time() - t0)}


def windows(model, data, n, seed=0):
    """n random windows of a 16 kHz split with all four stems audible, scaled to input_rms."""
    rng = np.random.default_rng(seed)
    files = sorted(glob.glob(os.path.join(data, "*.npy")))
    T, out = model.m["window"], []
    while len(out) < n:
        q = np.load(files[rng.integers(len(files))]).astype(np.float32)
        if q.shape[1] < T:
            continue
        st = rng.integers(q.shape[1] - T)
        stems = q[:, st:st + T]
        rms = np.sqrt((stems**2).mean(1))
        if (rms < 0.05 * rms.max()).any():
            continue
        g = model.m["input_rms"] / np.sqrt((stems.sum(0) ** 2).mean())
        out.append(stems * g)
    return out


def grid(model, data, n_windows, steps, ws=(1.0, 3.0, 7.5, 15.0)):
    """The paper's embedding-scale grid (table 1) on validation windows: extractor and separator."""
    wins = windows(model, data, n_windows)
    table = {}
    for w in ws:
        ext = {s: [] for s in STEMS}
        sep = {s: [] for s in STEMS}
        for i, stems in enumerate(wins):
            y = stems.sum(0)
            for k, s in enumerate(STEMS):
                e = extract(model, y, k, w=w, steps=steps, negatives=s in ("bass", "drums"), seed=i)
                ext[s].append(si_sdr(e, stems[k]) - si_sdr(y, stems[k]))
            est = separate(model, y, constrained=1, w=w, steps=steps, seed=i)
            for k, s in enumerate(STEMS):
                sep[s].append(si_sdr(est[k], stems[k]) - si_sdr(y, stems[k]))
        table[f"w={w:g}"] = {"extractor": {s: round(float(np.mean(v)), 2) for s, v in ext.items()},
                             "separator_drums": {s: round(float(np.mean(v)), 2) for s, v in sep.items()}}
        print(json.dumps({f"w={w:g}": table[f"w={w:g}"]}), flush=True)
    return table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="../default")
    ap.add_argument("--data", default="work/data/val")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--grid", action="store_true", help="embedding-scale grid instead of the default check")
    args = ap.parse_args()
    if args.grid:
        grid(Model(args.model), args.data, args.windows, args.steps)
    else:
        print(json.dumps(check(Model(args.model), args.data, args.windows, args.steps)))


if __name__ == "__main__":
    main()
