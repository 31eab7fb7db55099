"""Harmony metric for a generated bass: does it play the song's chords?

The procedural songs (songs.py) are regenerated from their seeds, so every bar's chord and
its time are known exactly as rendered (bar k starts at k · beats · 60 / tempo; no offset).
For a bass signal and those bars:

1. chord / root share: per bar, the share of the bass's pitch-class energy (a constant-Q
   semitone filterbank on MIDI 24–67, 33–392 Hz, folded to 12 pitch classes) on the bar's
   chord tones / its root; averaged over the bars where the bass is audible;
2. chance: the same shares against the chords of the same bar positions of the OTHER songs;
   gain = share − chance, in percentage points (a bass that ignores the harmony scores ≈ 0);
3. clarity: per bar, the share of the strongest pitch class (a bass that plays notes, right or
   wrong, scores far above the 1/12 of noise);
4. low: the share of the bass's energy below 300 Hz;
5. corr: the correlation of the bass with the given guitar (a copy of it scores ±1).

Bach chorales are left out: they have no chord symbols, the harmony changes every beat, and
their bass voice is itself part of the harmony. From models/recipe/:

    python harmony.py --split work/data/val --reference-only          # true bass, 12 s crops
    python harmony.py --split work/data/val --reference-only --seconds 0   # whole songs
    python harmony.py --gmsdi BIN --model ../default --split work/data/val --songs 8 --seconds 12
    python harmony.py ... --crops 3     # up to 3 non-overlapping crops per song (11 of 7 val songs)
    python harmony.py --split work/data/val --check-timing            # bar grid vs the rendered bass
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
from scipy import signal

import songs

SR = 16000
BASS, GUITAR = songs.STEMS.index("bass"), songs.STEMS.index("guitar")
LOW_SR = 2000  # the filterbank runs on the signal resampled to 2 kHz
HOP = 20  # 10 ms frames at LOW_SR
MIDI = np.arange(24, 68)  # C1 (32.7 Hz) … G4 (392 Hz): the bass register, 30–400 Hz
WINDOW_Q = 2.0 / (2 ** (1 / 12) - 1)  # Hann of 2·Q periods: its first zero is one semitone away
LOW_HZ = 300.0
AUDIBLE = 0.1  # a bar counts if its bass energy is ≥ 10 % of the mean bar's


# ---------------------------------------------------------------- the songs' bars


def song_bars(seed):
    """The song dict and its bars: {"start", "end" (s), "chord" (pitch-class sets), "root"}.

    Replays songs.make_song(seed) and records each bar's chord_pcs call (one per bar, in order).
    """
    chords = []
    orig = songs.chord_pcs

    def record(*args):
        pcs = orig(*args)
        chords.append(pcs)
        return pcs

    songs.chord_pcs = record
    try:
        song = songs.make_song(seed)
    finally:
        songs.chord_pcs = orig
    bar_s = (3 if song["style"] == "waltz" else 4) * 60.0 / song["tempo"]
    start = np.arange(len(chords)) * bar_s
    return song, {"start": start, "end": start + bar_s,
                  "chord": [sorted({p % 12 for p in c}) for c in chords],
                  "root": [c[0] % 12 for c in chords]}


def on_chord(notes, bars, t0=0.0, t1=np.inf):
    """Share of the notes starting in [t0, t1) whose pitch class is in their bar's chord."""
    bar_s = bars["end"][0] - bars["start"][0]
    hits = [p % 12 in bars["chord"][int(st / bar_s + 1e-9)] for st, _, p, _ in notes if t0 <= st < t1]
    return float(np.mean(hits)) if hits else np.nan


def crop_bars(bars, t0, t1):
    """The bars that lie wholly inside [t0, t1], their times relative to t0."""
    keep = (bars["start"] >= t0 - 1e-6) & (bars["end"] <= t1 + 1e-6)
    idx = np.flatnonzero(keep)
    return {"start": bars["start"][idx] - t0, "end": bars["end"][idx] - t0,
            "chord": [bars["chord"][i] for i in idx], "root": [bars["root"][i] for i in idx]}


# ---------------------------------------------------------------- features


def semitone_energy(x):
    """[len(MIDI), frames] energy of a constant-Q (Hann, WINDOW_Q) semitone filterbank, 10 ms hop."""
    y = signal.resample_poly(np.asarray(x, np.float64), 1, SR // LOW_SR)
    rows = []
    for m in MIDI:
        f = 440.0 * 2 ** ((m - 69) / 12)
        n = int(round(WINDOW_Q * LOW_SR / f)) | 1
        w = np.hanning(n)
        kernel = w * np.exp(2j * np.pi * f * np.arange(n) / LOW_SR) / w.sum()
        rows.append(np.abs(signal.fftconvolve(y, kernel, mode="same")[::HOP]) ** 2)
    return np.array(rows)


def bar_chroma(energy, bars):
    """[bars, 12] pitch-class energy summed over each bar's frames."""
    t = np.arange(energy.shape[1]) * HOP / LOW_SR
    out = np.zeros((len(bars["start"]), 12))
    for i, (a, b) in enumerate(zip(bars["start"], bars["end"])):
        e = energy[:, (t >= a) & (t < b)].sum(axis=1)
        np.add.at(out[i], MIDI % 12, e)
    return out


def low_share(x, hz=LOW_HZ):
    """Share of the signal's energy below `hz`."""
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    return float(p[f < hz].sum() / (p.sum() + 1e-20))


def correlation(x, y):
    n = min(len(x), len(y))
    x, y = x[:n] - x[:n].mean(), y[:n] - y[:n].mean()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-20))


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)) + 1e-20))


# ---------------------------------------------------------------- the metric


def audible_bars(chroma):
    """(each bar's total energy, the mask of bars with at least AUDIBLE of the mean bar's)."""
    total = chroma.sum(axis=1)
    return total, total >= AUDIBLE * total.mean() if total.mean() > 0 else np.zeros(len(total), bool)


def shares(chroma, chords, roots):
    """Mean chord-tone and root share over the audible bars (chords indexed by bar, cyclically)."""
    total, audible = audible_bars(chroma)
    if not audible.any():
        return np.nan, np.nan
    ch, ro = [], []
    for i in np.flatnonzero(audible):
        ch.append(chroma[i, chords[i % len(chords)]].sum() / total[i])
        ro.append(chroma[i, roots[i % len(roots)]] / total[i])
    return float(np.mean(ch)), float(np.mean(ro))


def clarity(chroma):
    """Mean share of the strongest pitch class over the audible bars: 1/12 for noise, about 0.75
    for the recipe's true basses (one note per bar, mostly)."""
    total, audible = audible_bars(chroma)
    return float(np.mean(chroma[audible].max(axis=1) / total[audible])) if audible.any() else np.nan


def harmony_scores(chroma, own, others):
    """Chord / root share against the song's bars, chance over the other songs, gains (points)."""
    chord, root = shares(chroma, own["chord"], own["root"])
    chance = np.array([shares(chroma, o["chord"], o["root"]) for o in others])
    c_chord, c_root = np.nanmean(chance, axis=0)
    return {"chord": 100 * chord, "chord_chance": 100 * c_chord, "chord_gain": 100 * (chord - c_chord),
            "root": 100 * root, "root_chance": 100 * c_root, "root_gain": 100 * (root - c_root)}


def score_bass(x, guitar, bars, others, true=None):
    """All figures for one bass signal `x` on one song's (or crop's) bars."""
    chroma = bar_chroma(semitone_energy(x), bars)
    res = harmony_scores(chroma, bars, others)
    res["clarity"] = 100 * clarity(chroma)
    res["bars"] = len(bars["start"])
    res["low"] = 100 * low_share(x)
    res["corr"] = correlation(x, guitar)
    if true is not None:
        res["rms_vs_true"] = rms(x) / rms(true)
    return res


def wrong_key_controls(items, pool):
    """Controls that ignore the harmony: the true bass transposed (pitch classes rolled by 1…11,
    mean) and the true bass of each other song j on this song's bars (mean over j; its chance
    leaves out song j's own chords)."""
    energies = [semitone_energy(it["bass"]) for it in items]
    out = []
    for i, it in enumerate(items):
        own = bar_chroma(energies[i], it["bars"])
        rolled = [harmony_scores(np.roll(own, s, axis=1), it["bars"], pool_without(pool, it["song"]))
                  for s in range(1, 12)]
        foreign = [harmony_scores(bar_chroma(energies[j], it["bars"]), it["bars"],
                                  pool_without(pool, it["song"], o["song"]))
                   for j, o in enumerate(items) if o["song"] != it["song"]]
        out.append({"transposed": mean_dicts(rolled), "other_song": mean_dicts(foreign)})
    return out


def mean_dicts(ds):
    """Mean of every numeric field but the offset."""
    keys = [k for k in ds[0] if isinstance(ds[0][k], (int, float)) and k != "offset"]
    return {k: float(np.nanmean([d[k] for d in ds])) for k in keys}


# ---------------------------------------------------------------- data, crops


def load_split(split, names=None):
    """[(name, seed, stems float [4, T])] of the split's procedural songs, in seed order."""
    with open(os.path.join(os.path.dirname(os.path.normpath(split)), "meta.json")) as f:
        meta = {m["name"]: m for m in json.load(f)}
    out = []
    for fn in sorted(os.listdir(split)):
        name = fn[:-4]
        if fn.endswith(".npy") and name.startswith("proc") and (names is None or name in names):
            out.append((name, meta[name]["seed"], np.load(os.path.join(split, fn)).astype(np.float64) / 32768))
    return out


def audible_frames(x, ref, n=SR // 2):
    """Which 0.5 s frames of `x` have an RMS ≥ 3 % of `ref` (the song's mixture RMS, −30 dB)."""
    k = len(x) // n
    return np.sqrt((x[: k * n].reshape(k, n) ** 2).mean(axis=1)) >= 0.03 * ref


def choose_crops(stems, bars, seconds, count=1):
    """Up to `count` non-overlapping crops, each at the first bar start (after the previous crop)
    where bass and guitar are audible in ≥ 95 % of 0.5 s frames for `seconds`; else the one best
    bar start. Returns [(start s, audible fraction)]."""
    ref = rms(stems.sum(axis=0))
    g, b = audible_frames(stems[GUITAR], ref), audible_frames(stems[BASS], ref)
    best, found = (0.0, -1.0), []
    for t0 in bars["start"]:
        f0, f1 = int(t0 * 2), int((t0 + seconds) * 2)
        if (t0 + seconds) * SR > stems.shape[1] or f1 > len(g) or len(found) == count:
            break
        if found and t0 < found[-1][0] + seconds - 1e-6:
            continue
        score = min(g[f0:f1].mean(), b[f0:f1].mean())
        if score >= 0.95:
            found.append((float(t0), float(score)))
        elif score > best[1]:
            best = (float(t0), float(score))
    return found or [best]


def prepare(split, seconds, n_songs, min_audible, crops=1):
    """The crops to score and the chance pool of every procedural song's bars.

    items: [{"name", "song", "seed", "offset", "bass", "guitar", "bars", "gtr_on_chord"}], up to
    `crops` crops (choose_crops) of each of the first `n_songs` songs (0: all) whose crop has bass
    and guitar audible (gtr_on_chord: % of the guitar's notes in the crop on their bar's chord
    tones, from the note list); a song's first crop is named after it, the others `<song>_<k>`.
    pool: {song: bars} from each song's first crop start (bar 0 where it has no crop), whether it
    is scored or not.
    """
    items, pool, scored = [], {}, 0
    for name, seed, stems in load_split(split):
        song, bars = song_bars(seed)
        end = stems.shape[1] / SR
        if seconds > 0:
            starts = choose_crops(stems, bars, seconds, crops)
            ok = starts[0][1] >= min_audible
            why = f"bass and guitar audible in {starts[0][1]:.0%} of the best crop"
        else:
            ok, why = audible_frames(stems[BASS], rms(stems.sum(axis=0))).any(), "no audible bass"
            starts = [(0.0, 1.0)]
        t0 = starts[0][0]
        t1 = t0 + seconds if seconds > 0 else end
        pool[name] = crop_bars(bars, t0 if ok else 0.0, t1 if ok else end)
        if not ok or (n_songs and scored == n_songs):
            if not ok:
                print(f"skip {name}: {why}", file=sys.stderr)
            continue
        scored += 1
        for k, (t0, _) in enumerate(starts):
            t1 = t0 + seconds if seconds > 0 else end
            a, b = int(round(t0 * SR)), int(round(t1 * SR))
            items.append({"name": name if k == 0 else f"{name}_{k + 1}", "song": name, "seed": seed,
                          "offset": t0, "bass": stems[BASS, a:b], "guitar": stems[GUITAR, a:b],
                          "bars": crop_bars(bars, t0, t1),
                          "gtr_on_chord": 100 * on_chord(song["stems"]["guitar"], bars, t0, t1)})
    return items, pool


def pool_without(pool, *names):
    """The pool's bars, without the named songs'."""
    return [b for n, b in pool.items() if n not in names]


# ---------------------------------------------------------------- generation with the CLI


def generate(a, items):
    """Writes each crop's guitar, runs `gmsdi accompany`, returns the generated basses."""
    out = []
    for i, it in enumerate(items):
        d = os.path.join(a.work, it["name"])
        os.makedirs(d, exist_ok=True)
        guitar = os.path.join(d, "guitar.wav")
        sf.write(guitar, it["guitar"].astype(np.float32), SR, subtype="FLOAT")
        bass = os.path.join(d, "acc", "bass.wav")
        if not (a.reuse and os.path.exists(bass)):
            cmd = [a.gmsdi, "--threads", "1", "--model", a.model, "accompany", "--source", f"guitar={guitar}",
                   "--generate", "bass", "--out", os.path.join(d, "acc"), "--seed", str(a.seed + i)]
            cmd += a.extra.split()
            t = time.time()
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
            print(f"{it['name']}: accompany {time.time() - t:.0f} s", file=sys.stderr, flush=True)
        x, sr = sf.read(bass, dtype="float64", always_2d=True)
        if sr != SR:
            sys.exit(f"{bass}: {sr} Hz, expected {SR}")
        x = x.mean(axis=1)[: len(it["guitar"])]
        out.append(np.pad(x, (0, len(it["guitar"]) - len(x))))
    return out


# ---------------------------------------------------------------- timing check


def entry_delays(x, notes, gap=1.0):
    """Rendered onset − note start (ms) for the notes that follow ≥ `gap` s of bass silence:
    the first sample from 50 ms before the note that exceeds 2 % of the next 300 ms's peak."""
    out, last_end = [], -np.inf
    for st, dur, *_ in sorted(notes):
        if st - last_end >= gap and (st + 0.3) * SR <= len(x):
            a = max(0, int((st - 0.05) * SR))
            w = np.abs(x[a: int((st + 0.3) * SR)])
            out.append(1000 * ((a + np.argmax(w > 0.02 * w.max())) / SR - st))
        last_end = max(last_end, st + dur)
    return out


def shifted(bars, dt=0.0, k=0):
    """The bars with their times moved by dt seconds and their chords by k bars."""
    roll = lambda v: v[-k:] + v[:-k] if k else v  # noqa: E731
    return {"start": bars["start"] + dt, "end": bars["end"] + dt,
            "chord": roll(bars["chord"]), "root": roll(bars["root"])}


def check_timing(split):
    """Per song: delay of the rendered bass's entries after silence against the note list; the
    true bass's root share on the bar grid as rendered, with the grid moved by ±½ bar and with
    the chords moved by ±1 bar (both lower if grid and chords are right); the strongest pitch
    class per audible bar against the root; the guitar's notes on the chord tones."""
    print("| song | style | entries | delay (ms) | audible bars | root share | grid ±½ bar | chords ±1 bar "
          "| strongest = root | guitar notes on chord tones |")
    print("|---" * 10 + "|")
    for name, seed, stems in load_split(split):
        song, bars = song_bars(seed)
        notes = song["stems"]["bass"]
        if not notes:
            print(f"| {name} | {song['style']} | no bass |" + " – |" * 7)
            continue
        delays = entry_delays(stems[BASS], notes)
        energy = semitone_energy(stems[BASS])
        root = lambda b: 100 * shares(bar_chroma(energy, b), b["chord"], b["root"])[1]  # noqa: E731
        half = bars["end"][0] / 2
        grid = np.mean([root(shifted(bars, dt=d)) for d in (-half, half)])
        chords = np.mean([root(shifted(bars, k=k)) for k in (-1, 1)])
        chroma = bar_chroma(energy, bars)
        total = chroma.sum(axis=1)
        aud = np.flatnonzero(total >= AUDIBLE * total.mean())
        hit = np.mean([np.argmax(chroma[i]) == bars["root"][i] for i in aud])
        d = f"{min(delays):.1f}…{max(delays):.1f}" if delays else "–"
        print(f"| {name} | {song['style']} | {len(delays)} | {d} | {len(aud)}/{len(total)} | {root(bars):.1f} | "
              f"{grid:.1f} | {chords:.1f} | {hit:.0%} | {on_chord(song['stems']['guitar'], bars):.0%} |")


# ---------------------------------------------------------------- report


COLS = [("offset", "offset s", 1), ("bars", "bars", 0), ("chord", "chord %", 1), ("chord_chance", "chance", 1),
        ("chord_gain", "gain", 1), ("root", "root %", 1), ("root_chance", "chance", 1), ("root_gain", "gain", 1),
        ("clarity", "top class %", 0), ("low", "< 300 Hz %", 0), ("corr", "corr. guitar", 2),
        ("rms_vs_true", "RMS / true", 2),
        ("gtr_on_chord", "guitar notes on chord %", 0)]


def table(rows):
    """Markdown table: one row per (song, bass) and the means per bass."""
    cell = lambda r, k, d: f"{r[k]:.{d}f}" if k in r and np.isfinite(r[k]) else "–"  # noqa: E731
    lines = ["| song | bass | " + " | ".join(c[1] for c in COLS) + " |", "|---" * (len(COLS) + 2) + "|"]
    whats = list(dict.fromkeys(r["what"] for r in rows))
    for what in whats:
        lines += [f"| {r['song']} | {what} | " + " | ".join(cell(r, k, d) for k, _, d in COLS) + " |"
                  for r in rows if r["what"] == what]
    for what in whats:
        m = mean_dicts([r for r in rows if r["what"] == what])
        lines.append(f"| **mean** | {what} | " + " | ".join(cell(m, k, d) for k, _, d in COLS) + " |")
    return "\n".join(lines)


def no_nan(v):
    """NaN → None, recursively (JSON has no NaN)."""
    if isinstance(v, dict):
        return {k: no_nan(x) for k, x in v.items()}
    if isinstance(v, list):
        return [no_nan(x) for x in v]
    return None if isinstance(v, float) and not np.isfinite(v) else v


def score_all(items, pool, gens, controls, label="generated"):
    """Result rows: the true bass, the generated bass (`label`) and the controls of every song."""
    rows = []
    for i, it in enumerate(items):
        rest = pool_without(pool, it["song"])
        head = {"song": it["name"], "offset": it["offset"]}
        rows.append({**head, "what": "true", "gtr_on_chord": it["gtr_on_chord"],
                     **score_bass(it["bass"], it["guitar"], it["bars"], rest)})
        if gens:
            rows.append({**head, "what": label,
                         **score_bass(gens[i], it["guitar"], it["bars"], rest, true=it["bass"])})
        for k, v in (controls[i].items() if controls else []):
            rows.append({**head, "what": f"true, {k.replace('_', ' ')}", **v})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="work/data/val")
    ap.add_argument("--songs", type=int, default=0, help="number of songs (0: every procedural song)")
    ap.add_argument("--seconds", type=float, default=12.0, help="crop length (0: whole songs)")
    ap.add_argument("--crops", type=int, default=1, help="crops per song (non-overlapping; 1: the first)")
    ap.add_argument("--min-audible", type=float, default=0.95,
                    help="a crop needs bass and guitar audible in this share of its 0.5 s frames")
    ap.add_argument("--reference-only", action="store_true", help="score the true bass only (no CLI)")
    ap.add_argument("--check-timing", action="store_true", help="bar grid against the rendered bass")
    ap.add_argument("--gmsdi", help="the gmsdi CLI binary")
    ap.add_argument("--model", default="../default")
    ap.add_argument("--extra", default="", help="more `gmsdi accompany` options, e.g. \"--method context\"")
    ap.add_argument("--seed", type=int, default=1, help="seed of the first song (then +1 per song)")
    ap.add_argument("--work", default="work/harmony",
                    help="crops and generated basses go here (one folder per setting)")
    ap.add_argument("--reuse", action="store_true", help="score generated basses already in --work")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.check_timing:
        return check_timing(a.split)
    if not a.reference_only and not a.gmsdi:
        ap.error("--gmsdi is required unless --reference-only")
    t_start = time.time()
    items, pool = prepare(a.split, a.seconds, a.songs, a.min_audible, a.crops)
    gens = [] if a.reference_only else generate(a, items)
    controls = wrong_key_controls(items, pool) if a.reference_only else None
    rows = score_all(items, pool, gens, controls, f"generated {a.extra}".strip())
    if a.json:
        whats = dict.fromkeys(r["what"] for r in rows)
        means = {w: mean_dicts([r for r in rows if r["what"] == w]) for w in whats}
        res = {"split": a.split, "seconds": a.seconds, "extra": a.extra, "rows": rows, "means": means,
               "wall_seconds": round(time.time() - t_start, 1)}
        print(json.dumps(no_nan(res), indent=1))
    else:
        print(table(rows))
        songs = len({it["song"] for it in items})
        print(f"{len(items)} crops of {songs} songs, {a.seconds or 'whole'} s, {time.time() - t_start:.0f} s wall")


if __name__ == "__main__":
    main()
