"""Accompaniment coherence: does a bass generated under a song's guitar follow its harmony?

Also the driver that makes the clips `fad.py` scores. Runs in the recipe venv (numpy, scipy,
soundfile; no librosa). From models/recipe/:

    python coherence.py --test work/test44k --work work/eval --gmsdi ../../target/release/gmsdi \
        --model ../default --steps 20 --total 16

1. prepare: for every test song, one 8 s window (the first, on a 1 s grid, where guitar and
   bass are both audible in ≥ 95 % of its 0.5 s frames, else the best such window), written
   16 kHz mono to WORK/crops/<song>/{guitar,bass,mix}.wav, WORK/true_gb/<song>.wav (true
   guitar + bass of the window), WORK/guitar_only/<song>.wav (the guitar alone) and
   WORK/gb_full/<song>.wav (the whole song's guitar + bass, the reference set of the
   sub-mixture FAD). No metric is looked at to choose windows.
2. generate (skips what exists): `gmsdi accompany --source guitar=… --generate bass` per song
   with seed 1 + song index, → WORK/acc/<song>/bass.wav and WORK/acc_gb/<song>.wav (given
   guitar + generated bass); `gmsdi generate --stems bass,drums,guitar,piano --seconds 4.096`
   (one model window, the model's default 50 steps: at 20 steps the step-29,030 model's
   4-stem generation diverges to ±1 full-scale, identical stems) with seeds 1..N →
   WORK/total/<seed>/mix.wav.
3. score: chroma (STFT, 8192-point Hann at 16 kHz, hop 2048 = 128 ms, 30 Hz–2 kHz bins folded
   onto 12 pitch classes by their nearest semitone, power, L2-normalised per frame) of the
   generated bass, the held-out true bass and the given guitar. Agreement of two signals:
   - frame: mean cosine of their chroma over the frames where both are audible
     (frame energy > 1 % of the signal's mean frame energy);
   - profile: cosine of their time-averaged chroma (key-level, ignores timing);
   - root: whether the two profiles' strongest pitch class is the same.
   Same song: agree(generated bass_i, true bass_i). Control: the mean over j ≠ i of
   agree(generated bass_j, true bass_i) — a bass generated for a different song, scored
   against the same truth. Paired over songs: the difference, a paired t-test and a
   Wilcoxon signed-rank test. Rows with the given guitar instead of the true bass, and
   true bass vs guitar (what the real accompaniment scores), are printed beside.
   Confound check: the generated "bass" of the step-29,030 model is largely a scaled,
   inverted copy of the given guitar (diagnostics: correlation, least-squares share a), and
   chroma cannot tell that from a bass following the harmony. So the same rows are also
   computed for the generated bass minus a·guitar, and on 30–250 Hz only (where the guitar
   has little energy; fundamentals and 2nd harmonics of the bass).
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import soundfile as sf
from scipy import signal, stats

SR = 16000
SECONDS = 8.0


def load(path):
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if sr != SR:
        g = np.gcd(sr, SR)
        x = signal.resample_poly(x, SR // g, sr // g)
    return x


def frame_rms(x, n=SR // 2):
    k = len(x) // n
    return np.sqrt((x[: k * n].reshape(k, n) ** 2).mean(axis=1) + 1e-20)


def choose_window(guitar, bass):
    """First 8 s start (1 s grid) where both stems are audible in ≥ 95 % of 0.5 s frames."""
    n = int(SECONDS * SR)
    ga = frame_rms(guitar) > 0.05 * np.sqrt(np.mean(guitar**2))
    ba = frame_rms(bass) > 0.05 * np.sqrt(np.mean(bass**2))
    best, best_score = 0, -1.0
    for start in range(0, len(guitar) - n + 1, SR):
        f0, f1 = start // (SR // 2), (start + n) // (SR // 2)
        score = min(ga[f0:f1].mean(), ba[f0:f1].mean())
        if score >= 0.95:
            return start, float(score)
        if score > best_score:
            best, best_score = start, float(score)
    return best, best_score


def write(path, x):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, x.astype(np.float32), SR, subtype="FLOAT")


def prepare(test, work):
    songs = sorted(d for d in os.listdir(test) if os.path.isfile(os.path.join(test, d, "guitar.wav")))
    windows = {}
    n = int(SECONDS * SR)
    for s in songs:
        g, b, m = (load(os.path.join(test, s, f"{k}.wav")) for k in ("guitar", "bass", "mix"))
        start, score = choose_window(g, b)
        windows[s] = {"start_s": start / SR, "audible": score}
        for k, x in (("guitar", g), ("bass", b), ("mix", m)):
            write(os.path.join(work, "crops", s, f"{k}.wav"), x[start : start + n])
        write(os.path.join(work, "true_gb", f"{s}.wav"), (g + b)[start : start + n])
        write(os.path.join(work, "guitar_only", f"{s}.wav"), g[start : start + n])
        write(os.path.join(work, "gb_full", f"{s}.wav"), g + b)
    with open(os.path.join(work, "windows.json"), "w") as f:
        json.dump(windows, f, indent=1)
    return songs, windows


def run(cmd):
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return time.time() - t


def generate(a, songs):
    base = [a.gmsdi, "--threads", "1", "--model", a.model]
    steps = ["--steps", str(a.steps)] if a.steps else []
    times = {"accompany": [], "total": []}
    for i, s in enumerate(songs):
        out = os.path.join(a.work, "acc", s)
        if not os.path.exists(os.path.join(out, "bass.wav")):
            guitar = os.path.join(a.work, "crops", s, "guitar.wav")
            cmd = base + ["accompany", "--source", f"guitar={guitar}", "--generate", "bass", "--out", out,
                          "--seed", str(1 + i)] + steps + a.acc_args.split()
            times["accompany"].append(run(cmd))
            print(f"accompany {s}: {times['accompany'][-1]:.1f} s", flush=True)
        g = load(os.path.join(a.work, "crops", s, "guitar.wav"))
        gb = load(os.path.join(out, "bass.wav"))
        write(os.path.join(a.work, "acc_gb", f"{s}.wav"), g + gb[: len(g)])
    total_steps = ["--steps", str(a.total_steps)] if a.total_steps else []
    for k in range(a.total):
        out = os.path.join(a.work, "total", str(1 + k))
        if not os.path.exists(os.path.join(out, "mix.wav")):
            cmd = base + ["generate", "--stems", "bass,drums,guitar,piano", "--seconds", str(a.total_seconds),
                          "--out", out, "--seed", str(1 + k)] + total_steps
            times["total"].append(run(cmd))
            print(f"generate {k}: {times['total'][-1]:.1f} s", flush=True)
    return times


def chroma(x, fmin=30.0, fmax=2000.0):
    """(frames, 12) L2-normalised chroma and the frames' energy."""
    f, _, z = signal.stft(x, fs=SR, window="hann", nperseg=8192, noverlap=8192 - 2048, boundary=None, padded=False)
    p = np.abs(z) ** 2
    band = (f >= fmin) & (f <= fmax)
    pc = np.round(69 + 12 * np.log2(f[band] / 440.0)).astype(int) % 12
    c = np.zeros((12, p.shape[1]))
    np.add.at(c, pc, p[band])
    energy = c.sum(axis=0)
    c = c / (np.linalg.norm(c, axis=0, keepdims=True) + 1e-20)
    return c.T, energy


def agree(a, b):
    (ca, ea), (cb, eb) = a, b
    k = min(len(ca), len(cb))
    ca, cb, ea, eb = ca[:k], cb[:k], ea[:k], eb[:k]
    both = (ea > 0.01 * ea.mean()) & (eb > 0.01 * eb.mean())
    frame = float(np.mean(np.sum(ca[both] * cb[both], axis=1))) if both.any() else np.nan
    pa, pb = ca[ea > 0.01 * ea.mean()].mean(axis=0), cb[eb > 0.01 * eb.mean()].mean(axis=0)
    profile = float(pa @ pb / (np.linalg.norm(pa) * np.linalg.norm(pb) + 1e-20))
    root = float(np.argmax(pa) == np.argmax(pb))
    return {"frame": frame, "profile": profile, "root": root}


def compare(xs, ys):
    """Same (agree(x_i, y_i)) vs control (mean over j≠i of agree(x_j, y_i)), paired over i."""
    n = len(xs)
    out = {}
    m = [[agree(xs[j], ys[i]) for j in range(n)] for i in range(n)]
    for key in ("frame", "profile", "root"):
        mat = np.array([[m[i][j][key] for j in range(n)] for i in range(n)])
        same = np.diag(mat)
        ctrl = np.array([np.nanmean(np.delete(mat[i], i)) for i in range(n)])
        d = same - ctrl
        ok = np.isfinite(d)
        t = stats.ttest_rel(same[ok], ctrl[ok])
        w = stats.wilcoxon(d[ok]) if ok.sum() > 1 and np.any(d[ok] != 0) else None
        out[key] = {
            "n": int(ok.sum()),
            "same": [float(np.mean(same[ok])), float(np.std(same[ok]))],
            "control": [float(np.mean(ctrl[ok])), float(np.std(ctrl[ok]))],
            "diff": [float(np.mean(d[ok])), float(np.std(d[ok]))],
            "t_p": float(t.pvalue),
            "wilcoxon_p": float(w.pvalue) if w else None,
            "better": int(np.sum(d[ok] > 0)),
        }
    return out


def score(work, songs):
    def get(s, k):
        return load(os.path.join(work, "acc" if k == "gen" else "crops", s, "bass.wav" if k == "gen" else f"{k}.wav"))

    gen, true, gtr = ([get(s, k) for s in songs] for k in ("gen", "bass", "guitar"))
    gen = [e[: len(g)] for e, g in zip(gen, gtr)]
    # the generated bass's least-squares share of the given guitar, a·guitar, and the rest
    share = [float(np.dot(e, g) / np.dot(g, g)) for e, g in zip(gen, gtr)]
    corr = [float(np.dot(e, g) / (np.linalg.norm(e) * np.linalg.norm(g) + 1e-20)) for e, g in zip(gen, gtr)]
    resid = [e - a * g for e, g, a in zip(gen, gtr, share)]
    res = {"songs": songs}
    for band, (lo, hi) in (("", (30.0, 2000.0)), ("low band ", (30.0, 250.0))):
        ch = lambda xs: [chroma(x, lo, hi) for x in xs]  # noqa: E731
        cg, ct, cr, cgt = ch(gen), ch(true), ch(resid), ch(gtr)
        res[f"{band}generated vs true bass"] = compare(cg, ct)
        res[f"{band}generated minus guitar share vs true bass"] = compare(cr, ct)
        res[f"{band}generated vs given guitar"] = compare(cg, cgt)
        res[f"{band}true bass vs given guitar"] = compare(ct, cgt)
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    q = lambda v: {"median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v))}  # noqa: E731
    res["diagnostics"] = {
        "generated_rms_over_true_rms": q([rms(e) / rms(t) for e, t in zip(gen, true)]),
        "corr_generated_given_guitar": q(corr),
        "guitar_share_a": q(share),
        "residual_energy_fraction": q([rms(r) ** 2 / rms(e) ** 2 for r, e in zip(resid, gen)]),
    }
    return res


def table(res):
    lines = ["| pair | metric | n | same song | other song (control) | difference | better | paired t p | Wilcoxon p |",
             "|---|---|---|---|---|---|---|---|---|"]
    for pair in [k for k in res if k.endswith(("true bass", "given guitar"))]:
        for key, r in res[pair].items():
            f = lambda v: f"{v[0]:.3f} ± {v[1]:.3f}"  # noqa: E731
            wp = f"{r['wilcoxon_p']:.2g}" if r["wilcoxon_p"] is not None else "–"
            lines.append(f"| {pair} | {key} | {r['n']} | {f(r['same'])} | {f(r['control'])} | "
                         f"{f(r['diff'])} | {r['better']}/{r['n']} | {r['t_p']:.2g} | {wp} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--test", default="work/test44k")
    ap.add_argument("--work", default="work/eval")
    ap.add_argument("--gmsdi", default="../../target/release/gmsdi")
    ap.add_argument("--model", default="../default")
    ap.add_argument("--steps", type=int, default=20, help="sampler steps (0: the model's default)")
    ap.add_argument("--total", type=int, default=16, help="total-generation clips for fad.py")
    ap.add_argument("--total-seconds", type=float, default=4.096, help="their length (4.096 s = one window)")
    ap.add_argument("--total-steps", type=int, default=0,
                    help="their sampler steps (0: the model's default, 50; 20 diverges for 4 stems)")
    ap.add_argument("--score-only", action="store_true")
    ap.add_argument("--acc-args", default="", help="more gmsdi accompany options, e.g. \"--gamma-sources 0.3\"")
    a = ap.parse_args()
    t0 = time.time()
    songs, windows = prepare(a.test, a.work)
    times = {} if a.score_only else generate(a, songs)
    res = score(a.work, songs)
    res["windows"] = windows
    res["gen_seconds"] = {k: [round(sum(v), 1), len(v)] for k, v in times.items()}
    res["settings"] = {"steps": a.steps, "model": a.model}
    res["wall_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(a.work, "coherence.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(table(res))
    print(json.dumps(res["diagnostics"]))
    print(f"generation times (s, count): {res['gen_seconds']}; wall {res['wall_seconds']} s")


if __name__ == "__main__":
    main()
