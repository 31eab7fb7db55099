"""Mixtures of random stem subsets with their text labels (training never sees a stem as a target).

An example: a random crop of a song, a random non-empty subset of the stems that are
audible in the crop, summed, and the label of that subset ("bass, drums"), sometimes
with paraphrases ("electric bass, drum kit") or in another order.
"""
import glob
import itertools
import os
import random

import numpy as np

STEMS = ["bass", "drums", "guitar", "piano"]
SEPARATOR = ", "
PARAPHRASES = {
    "bass": ["electric bass", "bass guitar", "bass line"],
    "drums": ["drum kit", "percussion", "drum beat"],
    "guitar": ["electric guitar", "acoustic guitar", "guitars"],
    "piano": ["keys", "keyboard", "acoustic piano"],
}
INPUT_RMS = 0.1  # full mixes are scaled to this RMS (model.json input_rms)
BASS, DRUMS = STEMS.index("bass"), STEMS.index("drums")
CHORD_STEMS = ("guitar", "piano")  # the stems that carry the chords a bass line follows
ACTIVE_RMS = 0.004  # a stem below this RMS in a crop counts as silent (-28 dB under the mix)


def all_prompts():
    """Every prompt the sampler below can produce (embeddings are precomputed for these)."""
    out = set()
    for k in range(1, len(STEMS) + 1):
        for subset in itertools.combinations(STEMS, k):
            for names in itertools.product(*[[s] + PARAPHRASES[s] for s in subset]):
                out.add(SEPARATOR.join(names))
            for perm in itertools.permutations(subset):
                out.add(SEPARATOR.join(perm))
    return sorted(out)


def make_prompt(subset, r):
    """subset: stem names in canonical order."""
    if len(subset) > 1 and r.random() < 0.15:
        subset = list(subset)
        r.shuffle(subset)
        return SEPARATOR.join(subset)
    para = r.random() < 0.3
    return SEPARATOR.join(r.choice(PARAPHRASES[s]) if para and r.random() < 0.5 else s for s in subset)


class Songs:
    def __init__(self, folder):
        self.files = sorted(glob.glob(os.path.join(folder, "*.npy")))
        self.audio, self.gain = [], []
        for f in self.files:
            q = np.load(f)
            mix = q.astype(np.float32).sum(0) / 32000
            active = np.abs(mix) > 1e-4
            rms = np.sqrt((mix[active] ** 2).mean()) if active.any() else 1.0
            self.audio.append(q)
            self.gain.append(INPUT_RMS / rms / 32000)
        lens = np.array([q.shape[1] for q in self.audio], np.float64)
        self.weights = lens / lens.sum()
        self.seconds = lens.sum() / 16000

    def crop(self, length, r, nr):
        """A random crop's stems with random per-stem gains [4, length], and the audible ones' indices."""
        while True:
            i = nr.choice(len(self.audio), p=self.weights)
            q = self.audio[i]
            if q.shape[1] < length:
                continue
            start = r.randrange(q.shape[1] - length + 1)
            stems = q[:, start:start + length].astype(np.float32) * self.gain[i]
            stems *= (10 ** (nr.uniform(-4, 4, size=(len(STEMS), 1)) / 20)).astype(np.float32)
            rms = np.sqrt((stems**2).mean(1))
            active = [k for k in range(len(STEMS)) if rms[k] > ACTIVE_RMS]
            if active:
                return stems, active

    def sample_bass(self, length, r, nr):
        """(mixture, prompt, context) of the accompaniment job: the bass alone as the target, given a
        crop's guitar and/or piano (and its drums half the time), from a crop where both are audible."""
        for _ in range(10000):
            stems, active = self.crop(length, r, nr)
            chords = [k for k in active if STEMS[k] in CHORD_STEMS]
            if BASS in active and chords:
                break
        else:
            raise ValueError("no crop with an audible bass and guitar or piano in this split")
        given = [k for k in chords if r.random() < 0.5] or [r.choice(chords)]
        if DRUMS in active and r.random() < 0.5:
            given.append(DRUMS)
        gain = example_gain(r)
        return stems[BASS] * gain, make_prompt(["bass"], r), stems[given].sum(0) * gain

    def sample(self, length, r, nr):
        """Returns (mixture float32 [length], prompt)."""
        return self.sample_context(length, r, nr, 0.0)[:2]

    def sample_context(self, length, r, nr, p_ctx, p_bass=0.0):
        """Returns (mixture, prompt, context): with probability p_ctx (when two or more stems are
        audible) the context is the sum of other stems of the same crop, else zeros. A share p_bass
        of those context examples is a bass under chords (sample_bass)."""
        if p_bass:
            if r.random() < p_ctx * p_bass:
                return self.sample_bass(length, r, nr)
            p_ctx = p_ctx * (1 - p_bass) / (1 - p_ctx * p_bass)  # the rest keeps a share 1 - p_ctx without
        stems, active = self.crop(length, r, nr)
        if p_ctx and len(active) > 1 and r.random() < p_ctx:
            chosen, given = accompaniment(active, r)
        else:
            chosen, given = subset(active, r), []
        gain = example_gain(r)
        mix = stems[chosen].sum(0) * gain
        context = stems[given].sum(0) * gain if given else np.zeros(length, np.float32)
        return mix, make_prompt([STEMS[k] for k in chosen], r), context


def example_gain(r):
    """The whole example's random gain, ±3 dB."""
    return np.float32(10 ** (r.uniform(-3, 3) / 20))


def subset(active, r):
    """A random non-empty subset of the active stems (a quarter of the time all of them)."""
    if r.random() < 0.25:
        return active
    return [k for k in active if r.random() < 0.5] or [r.choice(active)]


def accompaniment(active, r):
    """(target stems, given stems): disjoint, both non-empty; half the time a single target stem,
    and half the time all the other stems are given."""
    target = [r.choice(active)] if r.random() < 0.5 else subset(active, r)
    if len(target) == len(active):
        target = [r.choice(active)]
    rest = [k for k in active if k not in target]
    given = rest if r.random() < 0.5 else [k for k in rest if r.random() < 0.5] or [r.choice(rest)]
    return target, given
