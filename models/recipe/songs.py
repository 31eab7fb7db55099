"""Procedural song generator: keys, tempi, chord progressions, styles, rests, fills.

A song is a dict: {"name", "tempo", "stems": {stem: [(start_s, dur_s, pitch, vel), ...]}}.
Stems: bass, drums (GM percussion keys), guitar, piano. The bass follows the harmony.
Everything is drawn from one `random.Random(seed)`, so a seed is a song.
"""
import random

STEMS = ["bass", "drums", "guitar", "piano"]

MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
# progressions as scale degrees (0-based)
PROGRESSIONS = [
    [0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 4], [0, 3, 0, 4], [5, 3, 0, 4],
    [0, 0, 3, 4], [1, 4, 0, 0], [0, 6, 5, 4], [0, 3, 5, 4], [0, 2, 3, 4],
]
STYLES = ["rock", "ballad", "funk", "waltz", "shuffle", "pop"]
# GM drum keys
KICK, SNARE, HAT, OHAT, CRASH, RIDE, TOM_L, TOM_M, TOM_H, CLAP = 36, 38, 42, 46, 49, 51, 45, 47, 50, 39


def chord_pcs(key, scale, degree, seventh):
    n = 4 if seventh else 3
    return [(key + scale[(degree + 2 * i) % 7] + 12 * ((degree + 2 * i) // 7)) for i in range(n)]


def make_song(seed):
    r = random.Random(seed)
    style = r.choice(STYLES)
    beats = 3 if style == "waltz" else 4
    tempo = r.uniform(70, 100) if style == "ballad" else r.uniform(85, 150)
    spb = 60.0 / tempo
    key = r.randrange(12)
    scale = MINOR if r.random() < 0.4 else MAJOR
    prog = list(r.choice(PROGRESSIONS))
    if r.random() < 0.3:
        prog = prog + list(r.choice(PROGRESSIONS))
    seventh = r.random() < 0.3
    swing = style == "shuffle"
    n_sections = r.randint(3, 5)
    stems = {s: [] for s in STEMS}
    # which stems play in each section: full band most of the time, drop-outs for variety
    sections = []
    for i in range(n_sections):
        on = {s: r.random() < 0.8 for s in STEMS}
        if not any(on.values()):
            on[r.choice(STEMS)] = True
        if i == 0 and r.random() < 0.5:  # intro with few instruments
            keep = r.sample(STEMS, r.randint(1, 2))
            on = {s: s in keep for s in STEMS}
        sections.append(on)
    bars_per_section = r.choice([4, 8])
    piano_pattern = r.choice(["block", "arp", "offbeat"])
    guitar_pattern = r.choice(["strum", "power", "arp", "riff"])
    bass_pattern = r.choice(["root", "eighths", "walk", "octave"])
    t = 0.0
    bar = 0

    def sw(beat_pos):  # swing offbeats
        if swing and abs(beat_pos % 1 - 0.5) < 1e-6:
            return beat_pos + 1 / 6
        return beat_pos

    def add(stem, beat_pos, dur_beats, pitch, vel):
        vel = max(20, min(127, int(vel + r.gauss(0, 6))))
        stems[stem].append((t + sw(beat_pos) * spb, max(0.05, dur_beats * spb * 0.95), int(pitch), vel))

    for sec in sections:
        for b in range(bars_per_section):
            degree = prog[bar % len(prog)]
            pcs = chord_pcs(key, scale, degree, seventh)
            root = pcs[0]
            last_bar = b == bars_per_section - 1
            # bass: follows the chord root
            if sec["bass"]:
                base = 28 + (root - 28) % 12  # E1..D#2, pitch class = the chord's root
                if base < 33:
                    base += 12
                if bass_pattern == "root":
                    for k in range(beats):
                        add("bass", k, 0.9, base, 95)
                elif bass_pattern == "eighths":
                    for k in range(beats * 2):
                        add("bass", k / 2, 0.45, base, 90 if k % 2 == 0 else 75)
                elif bass_pattern == "octave":
                    for k in range(beats * 2):
                        add("bass", k / 2, 0.45, base + (12 if k % 2 else 0), 88)
                else:  # walking line through chord tones
                    tones = [base, base + (pcs[1] - root), base + (pcs[2] - root), base + (pcs[2] - root) + 2]
                    for k in range(beats):
                        add("bass", k, 0.9, tones[k % len(tones)], 92)
            # drums
            if sec["drums"]:
                if style in ("rock", "pop", "shuffle"):
                    for k in range(beats * 2):
                        add("drums", k / 2, 0.25, HAT if r.random() < 0.9 else OHAT, 70 if k % 2 else 90)
                    for k in range(beats):
                        add("drums", k, 0.25, KICK if k % 2 == 0 else SNARE, 105)
                    if r.random() < 0.3:
                        add("drums", 2.5, 0.25, KICK, 90)
                elif style == "funk":
                    for k in range(beats * 4):
                        add("drums", k / 4, 0.2, HAT, 60 + 25 * (k % 2 == 0))
                    for pos in [0, 0.75, 2.5]:
                        add("drums", pos, 0.25, KICK, 105)
                    for pos in [1, 3]:
                        add("drums", pos, 0.25, SNARE, 110)
                elif style == "waltz":
                    add("drums", 0, 0.3, KICK, 100)
                    add("drums", 1, 0.3, SNARE, 75)
                    add("drums", 2, 0.3, SNARE, 75)
                    for k in range(3):
                        add("drums", k, 0.3, RIDE, 70)
                else:  # ballad
                    add("drums", 0, 0.3, KICK, 90)
                    add("drums", 2, 0.3, SNARE if r.random() < 0.7 else CLAP, 85)
                    for k in range(beats * 2):
                        add("drums", k / 2, 0.25, HAT, 55)
                if b == 0 and r.random() < 0.5:
                    add("drums", 0, 0.5, CRASH, 100)
                if last_bar and r.random() < 0.7:  # fill
                    for k, tom in enumerate([TOM_H, TOM_H, TOM_M, TOM_M, TOM_L, TOM_L, SNARE, SNARE]):
                        add("drums", beats - 2 + k / 4, 0.2, tom, 95)
            # guitar
            if sec["guitar"]:
                g0 = 52 + (root - 52) % 12  # E3..D#4, pitch class = the chord's root
                voicing = [g0 + (p - root) for p in pcs] + [g0 + 12]
                if guitar_pattern == "strum":
                    for k in range(beats):
                        for j, p in enumerate(voicing):
                            add("guitar", k + j * 0.02, 0.9, p, 80)
                elif guitar_pattern == "power":
                    for k in range(beats * 2):
                        for p in (g0 - 12, g0 - 5, g0):
                            add("guitar", k / 2, 0.45, p, 85)
                elif guitar_pattern == "arp":
                    for k in range(beats * 2):
                        add("guitar", k / 2, 0.5, voicing[k % len(voicing)], 78)
                else:  # riff: random scale notes
                    for k in range(beats * 2):
                        if r.random() < 0.75:
                            p = key + 60 + scale[r.randrange(7)] - 12 * (r.random() < 0.3)
                            add("guitar", k / 2, 0.45, p, 82)
            # piano
            if sec["piano"]:
                p0 = 60 + (root % 12) - (12 if root % 12 > 6 else 0)
                voicing = [p0 + (p - root) for p in pcs]
                if piano_pattern == "block":
                    for k in range(0, beats, 2 if beats == 4 else 3):
                        for p in [p0 - 12] + voicing:
                            add("piano", k, 1.9, p, 70)
                elif piano_pattern == "arp":
                    seq = [p0 - 12] + voicing + voicing[1:][::-1]
                    for k in range(beats * 2):
                        add("piano", k / 2, 0.6, seq[k % len(seq)], 68)
                else:
                    for k in range(beats):
                        for p in voicing:
                            add("piano", k + 0.5, 0.4, p, 72)
                # a melody line on top sometimes
                if r.random() < 0.5:
                    for k in range(beats * 2):
                        if r.random() < 0.5:
                            add("piano", k / 2, 0.5, key + 72 + scale[r.randrange(7)], 75)
            t += beats * spb
            bar += 1
    return {"name": f"proc{seed:05d}", "tempo": tempo, "length": t + 1.5, "stems": stems, "style": style}
