"""Render songs stem by stem with FluidSynth in-process (Slakh-style data).

Each stem is rendered on its own with reverb and chorus off, so the stems sum exactly
to the mixture. Splits are disjoint by song (procedural seeds / chorale index).

  python render.py --out work/data                  # train/val/test at 16 kHz mono (int16 .npy)
  python render.py --out work/test44k --test44k     # test split, 44.1 kHz stereo wav folders
  python render.py --out work/unseen --splits val,test --soundfonts /usr/share/sounds/sf2/sf_GMbank.sf2
                                                    # the same songs in a soundfont never trained on

The unseen-timbre split is the validation and test songs rendered with Csound's GM bank
(Debian `csound-soundfont`), which training never uses. The MuseScore General soundfont is
never used, for training or evaluation.
"""
import argparse
import json
import os
import random

import numpy as np

import chorales
import songs

STEMS = songs.STEMS
SOUNDFONTS = ["/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2"]  # training's
UNSEEN = "/usr/share/sounds/sf2/sf_GMbank.sf2"  # held out of training: the unseen-timbre split
CHANNEL = {"bass": 0, "guitar": 1, "piano": 2, "drums": 9}
DRUM_KITS = [0, 8, 16, 24, 25, 32, 40]
# procedural seeds per split; chorales: index % 20 == 0 -> test, == 1 -> val, else train
PROC_SEEDS = {"train": range(0, 160), "val": range(10000, 10008), "test": range(20000, 20010)}


def chorale_split(i):
    return "test" if i % 20 == 0 else "val" if i % 20 == 1 else "train"


class Renderer:
    def __init__(self, sr, soundfonts=SOUNDFONTS):
        import fluidsynth

        self.sr = sr
        self.synths = []
        for path in soundfonts:
            fs = fluidsynth.Synth(gain=0.5, samplerate=float(sr),
                                  **{"synth.reverb.active": 0, "synth.chorus.active": 0})
            self.synths.append((fs, fs.sfload(path)))

    def render(self, song, seed, stereo=False):
        """Returns float32 [stems, channels, N] (channels = 2 if stereo else 1)."""
        r = random.Random(seed * 7919 + 1)
        fs, sfid = self.synths[r.randrange(len(self.synths))]
        programs = {"bass": r.randint(32, 39), "guitar": r.randint(24, 30), "piano": r.randint(0, 5)}
        for stem, ch in CHANNEL.items():
            if stem == "drums":
                if fs.program_select(ch, sfid, 128, r.choice(DRUM_KITS)) != 0:
                    fs.program_select(ch, sfid, 128, 0)
            else:
                fs.program_select(ch, sfid, 0, programs[stem])
            fs.cc(ch, 10, r.randint(24, 104) if stereo else 64)  # pan
            fs.cc(ch, 7, 100)
        n_total = int(song["length"] * self.sr)
        out = np.zeros((len(STEMS), 2, n_total), np.float32)
        for si, stem in enumerate(STEMS):
            ch = CHANNEL[stem]
            ev = []
            for st, dur, p, v in song["stems"][stem]:
                ev.append((st, 1, p, v))
                ev.append((st + dur, 0, p, 0))
            ev.sort(key=lambda e: (e[0], e[1]))
            pos, chunks = 0, []
            for t, on, p, v in ev:
                n = min(int(round(t * self.sr)), n_total) - pos
                if n > 0:
                    chunks.append(fs.get_samples(n))
                    pos += n
                if on:
                    fs.noteon(ch, int(p), int(v))
                else:
                    fs.noteoff(ch, int(p))
            if n_total > pos:
                chunks.append(fs.get_samples(n_total - pos))
            fs.cc(ch, 123, 0)  # all notes off
            fs.cc(ch, 120, 0)  # all sound off: nothing leaks into the next stem
            fs.get_samples(64)
            audio = np.concatenate(chunks).astype(np.float32).reshape(-1, 2).T / 32768.0
            out[si] = audio[:, :n_total]
        return out if stereo else out.mean(axis=1, keepdims=True)


def song_list(splits, chorale_cache, n_chorales=None):
    """Yields (split, seed, song) for the requested splits."""
    for split in splits:
        for seed in PROC_SEEDS[split]:
            yield split, seed, songs.make_song(seed)
    if n_chorales == 0:
        return
    chs = chorales.load(chorale_cache)
    if n_chorales is not None:
        chs = chs[:n_chorales]
    for i, ch in enumerate(chs):
        if chorale_split(i) in splits:
            yield chorale_split(i), 50000 + i, chorales.arrange(ch, 50000 + i)


def stem_gains(seed):
    r = random.Random(seed * 31 + 7)
    return np.array([10 ** (r.uniform(-3, 3) / 20) for _ in STEMS], np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--splits", default="train,val,test")
    ap.add_argument("--test44k", action="store_true", help="44.1 kHz stereo wav folders")
    ap.add_argument("--sr", type=int, default=16000)
    ap.add_argument("--chorale-cache", default="work/chorales.json")
    ap.add_argument("--n-chorales", type=int, default=None)
    ap.add_argument("--n-proc", type=int, default=None, help="limit procedural songs per split")
    ap.add_argument("--soundfonts", default=",".join(SOUNDFONTS),
                    help=f"comma-separated .sf2 files, one drawn per song (the unseen split: {UNSEEN})")
    args = ap.parse_args()
    soundfonts = args.soundfonts.split(",")
    if any("musescore" in os.path.realpath(p).lower() for p in soundfonts):
        raise SystemExit("the MuseScore General soundfont is kept for checks on unseen timbres: not here")
    splits = args.splits.split(",")
    if args.n_proc is not None:
        for k in PROC_SEEDS:
            PROC_SEEDS[k] = PROC_SEEDS[k][: args.n_proc]
    sr = 44100 if args.test44k else args.sr
    rend = Renderer(sr, soundfonts)
    meta = []
    for split, seed, song in song_list(splits, args.chorale_cache, args.n_chorales):
        stems = rend.render(song, seed, stereo=args.test44k)
        # trim the silent tail
        if args.test44k:
            import soundfile as sf

            stems *= stem_gains(seed)[:, None, None]
            mix = stems.sum(0)
            scale = 0.9 / max(1e-6, np.abs(mix).max(), np.abs(stems).max())
            d = os.path.join(args.out, song["name"])
            os.makedirs(d, exist_ok=True)
            sf.write(os.path.join(d, "mix.wav"), (mix * scale).T, sr, subtype="PCM_16")
            for si, stem in enumerate(STEMS):
                sf.write(os.path.join(d, f"{stem}.wav"), (stems[si] * scale).T, sr, subtype="PCM_16")
        else:
            x = stems[:, 0]
            peak = max(1e-6, np.abs(x).max(), np.abs(x.sum(0)).max())
            q = np.round(x / peak * 32000).astype(np.int16)  # per-song scale; dataset renormalises
            os.makedirs(os.path.join(args.out, split), exist_ok=True)
            np.save(os.path.join(args.out, split, song["name"] + ".npy"), q)
        meta.append({"split": split, "name": song["name"], "seed": seed, "style": song["style"],
                     "seconds": round(stems.shape[-1] / sr, 2)})
        print(split, song["name"], meta[-1]["seconds"], flush=True)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    for split in splits:
        print(split, "minutes:", round(sum(m["seconds"] for m in meta if m["split"] == split) / 60, 1))


if __name__ == "__main__":
    main()
