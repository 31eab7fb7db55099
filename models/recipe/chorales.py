"""Bach chorales from music21's bundled corpus, arranged for bass, guitar, piano + drums.

Bass voice -> bass (an octave down), the other voices -> piano / guitar (assignment
varies per chorale), drums added from the meter. Parsing is slow (~0.5 s a score),
so the note lists are cached in JSON once; `arrange` turns a cached chorale into a song
dict of the same shape as songs.make_song.
"""
import json
import os
import random

from songs import CRASH, HAT, KICK, RIDE, SNARE


def extract(out_path):
    """Parse every Bach chorale once; write [{"name", "beats", "voices": [[(off_q, dur_q, pitch)], ...]}]."""
    from music21 import corpus

    items = []
    for i, score in enumerate(corpus.chorales.Iterator()):
        parts = list(score.parts)
        if len(parts) != 4:
            continue
        ts = score.recurse().getElementsByClass("TimeSignature")
        beats = ts[0].numerator if len(ts) else 4
        voices = []
        for part in parts:
            notes = []
            for n in part.stripTies().flatten().notes:
                for p in n.pitches:
                    notes.append((float(n.offset), float(n.quarterLength), int(p.midi)))
            voices.append(notes)
        items.append({"name": f"bach{i:03d}", "beats": beats, "voices": voices})
    with open(out_path, "w") as f:
        json.dump(items, f)
    return items


def load(path):
    if not os.path.exists(path):
        return extract(path)
    with open(path) as f:
        return json.load(f)


def arrange(ch, seed):
    r = random.Random(seed)
    tempo = r.uniform(70, 120)
    spb = 60.0 / tempo
    s, a, t, b = ch["voices"]
    stems = {"bass": [], "drums": [], "guitar": [], "piano": []}

    def put(stem, notes, transpose, vel):
        for off, dur, p in notes:
            stems[stem].append((off * spb, max(0.05, dur * spb * 0.97), p + transpose, max(20, min(127, int(vel + r.gauss(0, 6))))))

    put("bass", b, -12, 95)
    if r.random() < 0.5:
        put("piano", s, 0, 75)
        put("piano", a, 0, 68)
        put("guitar", t, 0 if r.random() < 0.5 else 12, 80)
    else:
        put("guitar", s, -12 if r.random() < 0.5 else 0, 82)
        put("piano", a, 0, 70)
        put("piano", t, 0, 70)
    end = max(off + dur for v in ch["voices"] for off, dur, _ in v)
    if r.random() < 0.75:  # drums on 3 of 4 chorales
        beats = ch["beats"]
        groove = r.choice(["rock", "ride", "sparse"])
        q = 0.0
        while q < end:
            bar_pos = q % beats
            if groove == "rock":
                stems["drums"].append((q * spb, 0.1, HAT, 75))
                stems["drums"].append(((q + 0.5) * spb, 0.1, HAT, 60))
                stems["drums"].append((q * spb, 0.1, KICK if int(bar_pos) % 2 == 0 else SNARE, 100))
            elif groove == "ride":
                stems["drums"].append((q * spb, 0.1, RIDE, 70))
                if bar_pos == 0:
                    stems["drums"].append((q * spb, 0.1, KICK, 95))
            else:
                if bar_pos == 0:
                    stems["drums"].append((q * spb, 0.1, KICK, 95))
                if int(bar_pos) == beats // 2:
                    stems["drums"].append((q * spb, 0.1, SNARE, 85))
            if bar_pos == 0 and r.random() < 0.1:
                stems["drums"].append((q * spb, 0.1, CRASH, 95))
            q += 1.0
    return {"name": ch["name"], "tempo": tempo, "length": end * spb + 1.5, "stems": stems, "style": "chorale"}
