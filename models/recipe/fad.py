"""Fréchet audio distance on musicnn embeddings (offline: the weights ship in the pip package).

Runs in its own environment (TensorFlow 2.15, musicnn 0.1.0), see requirements-fad.txt:

    python3 -m venv .venv-fad
    .venv-fad/bin/pip install -r requirements-fad.txt
    .venv-fad/bin/pip install --no-deps musicnn==0.1.0    # its metadata pins numpy<1.17; it runs on 1.26

    .venv-fad/bin/python fad.py --ref 'work/test44k/*/mix.wav' --est 'work/eval/total/*/mix.wav' --json

Embedding: MSD_musicnn (Pons & Serra 2019, trained on the Million Song Dataset tags), its
200-d "penultimate" layer, one vector per 3 s patch (the length it was trained on), patches
every `--hop` seconds. Audio is downmixed to mono and resampled to 16 kHz, the log-mel front
end is musicnn's own (512-point FFT, hop 256, 96 mels, log10(10000·x + 1)). Each clip is first
scaled to `--rms` (default 0.1, the level the model's training mixes had), so the distance is
about content, not loudness; `--rms 0` keeps the levels.

FAD = ‖μ_r − μ_e‖² + tr(Σ_r + Σ_e − 2 (Σ_r Σ_e)^½) over all patch vectors of a set.

Reference files are cut into non-overlapping `--seconds` crops (the tail and near-silent
crops dropped); a reference file is one song. Estimate files are used whole up to
`--seconds`. Besides FAD(est, all ref), the script repeats `--repeats` times, with a fixed
seed, a split of the reference songs into halves A and B and reports, against the crops of
half A (mean ± std over the splits, same A for every row of a split):

- est:     the estimate clips (with --paired, only those whose song is in B);
- floor:   as many real crops from the songs of B (one per song, more if there are more
           estimate clips than songs; with --paired: the paired true clips of the same
           songs), i.e. test-vs-test at the estimate's sample size;
- noise:   as many clips of Gaussian noise at the RMS of the floor clips (the ceiling);
- B vs A:  all crops of half B against half A (test-vs-test with every crop).

FAD is biased by the sample size; only numbers computed at the same sizes (the rows of one
table) compare. With the few test songs here every number is noisy: read the std.

--paired GLOB: true clips paired with the estimate clips by song id (e.g. the true
guitar+bass under which a bass was generated). A song id is the file's parent folder when
all files of a set share one name (work/test44k/<song>/mix.wav), else the file's stem.
"""

import argparse
import glob
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import soundfile as sf
from scipy import linalg
from scipy.signal import resample_poly

SR = 16000
PATCH_FRAMES = 187  # musicnn: librosa.time_to_frames(3 s, sr=16000, n_fft=512, hop=256) + 1


def expand(spec):
    """A folder (every .wav under it) or a glob, sorted."""
    if os.path.isdir(spec):
        files = glob.glob(os.path.join(spec, "**", "*.wav"), recursive=True)
    else:
        files = glob.glob(spec, recursive=True)
    if not files:
        sys.exit(f"fad.py: nothing matches {spec}")
    return sorted(files)


def song_ids(files):
    names = {os.path.basename(f) for f in files}
    if len(names) == 1 and len(files) > 1:
        return [os.path.basename(os.path.dirname(f)) for f in files]
    return [os.path.splitext(os.path.basename(f))[0] for f in files]


def load(path):
    """Mono float64 at 16 kHz."""
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if sr != SR:
        g = np.gcd(sr, SR)
        x = resample_poly(x, SR // g, sr // g)
    return x


def rms(x):
    return float(np.sqrt(np.mean(x**2) + 1e-20))


class Musicnn:
    """MSD_musicnn in a one-thread TF1-style session."""

    def __init__(self, layer="penultimate"):
        import tensorflow as tf

        tf.compat.v1.disable_eager_execution()
        tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
        import musicnn
        from musicnn import models

        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            self.x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, 96])
            self.training = tf.compat.v1.placeholder(tf.bool)
            outs = models.define_model(self.x, self.training, "MSD_musicnn", 50)
        names = ["logits", "timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate"]
        self.out = dict(zip(names, outs))[layer]
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        self.sess = tf.compat.v1.Session(config=cfg)
        # raises if the checkpoint is missing or does not match the graph
        tf.compat.v1.train.Saver().restore(self.sess, os.path.dirname(musicnn.__file__) + "/MSD_musicnn/")

    def __call__(self, audio, hop_s):
        import librosa

        if len(audio) < PATCH_FRAMES * 256:
            audio = np.pad(audio, (0, PATCH_FRAMES * 256 - len(audio)))
        mel = librosa.feature.melspectrogram(
            y=audio.astype(np.float32), sr=SR, hop_length=256, n_fft=512, n_mels=96
        ).T
        mel = np.log10(10000 * mel.astype(np.float16) + 1)  # exactly musicnn's batch_data
        hop = max(1, int(round(hop_s * SR / 256)))
        starts = range(0, mel.shape[0] - PATCH_FRAMES + 1, hop)
        batch = np.stack([mel[s : s + PATCH_FRAMES] for s in starts]).astype(np.float32)
        return self.sess.run(self.out, feed_dict={self.x: batch, self.training: False}).reshape(len(batch), -1)


def stats(embs):
    e = np.concatenate(embs, axis=0).astype(np.float64)
    return e.mean(axis=0), np.cov(e, rowvar=False), len(e)


def frechet(a, b):
    (m1, s1, _), (m2, s2, _) = a, b
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        off = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = covmean.real
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def crops_of(x, n, min_rms):
    """Non-overlapping n-sample crops of x, dropping the tail and near-silent ones."""
    return [x[i : i + n] for i in range(0, len(x) - n + 1, n) if rms(x[i : i + n]) > min_rms]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", required=True, help="folder or glob of reference WAVs (one file = one song)")
    ap.add_argument("--est", required=True, help="folder or glob of estimate WAVs (clips)")
    ap.add_argument("--paired", help="folder or glob of true clips paired with --est by song id")
    ap.add_argument("--seconds", type=float, default=8.0, help="crop length (default 8)")
    ap.add_argument("--hop", type=float, default=1.0, help="seconds between 3 s patches (default 1)")
    ap.add_argument("--rms", type=float, default=0.1, help="scale every clip to this RMS first; 0: keep levels")
    ap.add_argument("--layer", default="penultimate", help="musicnn layer (penultimate, max_pool, mean_pool)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    a = ap.parse_args()
    t0 = time.time()
    n = int(round(a.seconds * SR))
    rng = np.random.default_rng(a.seed)
    net = Musicnn(a.layer)

    def emb(x):
        if a.rms > 0:
            x = x * (a.rms / rms(x))
        return net(x, a.hop)

    ref_files = expand(a.ref)
    ref_ids = song_ids(ref_files)
    ref_crops, ref_emb, ref_rms = {}, {}, {}
    for f, s in zip(ref_files, ref_ids):
        x = load(f)
        cs = crops_of(x, n, 1e-3 * rms(x) + 1e-6)
        ref_crops[s], ref_rms[s] = len(cs), [rms(c) for c in cs]
        ref_emb[s] = [emb(c) for c in cs]
    songs = sorted(ref_emb)
    est_files = expand(a.est)
    est_ids = song_ids(est_files)
    est_audio = [load(f)[:n] for f in est_files]
    est_emb = [emb(x) for x in est_audio]
    paired = {}
    if a.paired:
        pf = expand(a.paired)
        paired = {s: (emb(load(f)[:n]), rms(load(f)[:n])) for f, s in zip(pf, song_ids(pf))}
        missing = [s for s in est_ids if s not in paired or s not in ref_emb]
        if missing:
            sys.exit(f"fad.py: no paired/reference file for {missing}")

    def noise(k, levels):
        return [emb(rng.standard_normal(n) * levels[i % len(levels)]) for i in range(k)]

    all_ref = stats([e for s in songs for e in ref_emb[s]])
    result = {
        "embedding": f"MSD_musicnn/{a.layer}, 3 s patches, hop {a.hop} s, clips scaled to RMS {a.rms or 'as is'}",
        "ref": {"spec": a.ref, "songs": len(songs), "crops": int(sum(ref_crops.values())), "patches": all_ref[2]},
        "est": {"spec": a.est, "clips": len(est_files), "patches": int(sum(len(e) for e in est_emb)),
                "rms_mean": float(np.mean([rms(x) for x in est_audio]))},
        "ref_crop_rms_mean": float(np.mean([r for s in songs for r in ref_rms[s]])),
        "fad_est_vs_all_ref": frechet(stats(est_emb), all_ref),
    }
    rows = {"est": [], "floor": [], "noise": [], "est_minus_floor": [], "B_vs_A": []}
    sizes = []
    for _ in range(a.repeats):
        perm = list(rng.permutation(songs))
        A, B = sorted(perm[: len(songs) // 2]), sorted(perm[len(songs) // 2 :])
        ref_a = stats([e for s in A for e in ref_emb[s]])
        if a.paired:
            idx = [i for i, s in enumerate(est_ids) if s in B]
            est = [est_emb[i] for i in idx]
            floor = [paired[est_ids[i]][0] for i in idx]
            levels = [paired[est_ids[i]][1] for i in idx]
        else:
            est = est_emb
            # as many real crops as estimate clips: one per song of B, then round-robin
            left = {s: list(rng.permutation(len(ref_emb[s]))) for s in B}
            choice = []
            while len(choice) < len(est) and any(left.values()):
                for s in rng.permutation(B):
                    if left[s] and len(choice) < len(est):
                        choice.append((s, int(left[s].pop())))
            floor = [ref_emb[s][j] for s, j in choice]
            levels = [ref_rms[s][j] for s, j in choice]
        if len(est) < 2:
            continue
        fe, ff = frechet(stats(est), ref_a), frechet(stats(floor), ref_a)
        rows["est"].append(fe)
        rows["floor"].append(ff)
        rows["est_minus_floor"].append(fe - ff)
        rows["noise"].append(frechet(stats(noise(len(est), levels)), ref_a))
        rows["B_vs_A"].append(frechet(stats([e for s in B for e in ref_emb[s]]), ref_a))
        sizes.append((len(est), len(floor)))
    result["splits"] = {
        "repeats": len(sizes),
        "est_clips_per_split": float(np.mean([s[0] for s in sizes])),
        "floor_clips_per_split": float(np.mean([s[1] for s in sizes])),
        "ref_songs_per_split": len(songs) // 2,
        **{k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in rows.items()},
    }
    result["seconds"] = round(time.time() - t0, 1)
    if a.json:
        print(json.dumps(result, indent=1))
    else:
        sp = result["splits"]
        print(f"embedding: {result['embedding']}")
        print(f"ref: {len(songs)} songs, {result['ref']['crops']} crops of {a.seconds} s; est: {len(est_files)} clips")
        print(f"FAD(est, all ref) = {result['fad_est_vs_all_ref']:.2f}")
        print(f"{sp['repeats']} splits of the ref songs into halves A/B, FAD against half A ({sp['ref_songs_per_split']} songs):")
        for k in rows:
            print(f"  {k:16s} {sp[k]['mean']:8.2f} ± {sp[k]['std']:.2f}")
        print(f"({result['seconds']} s)")


if __name__ == "__main__":
    main()
