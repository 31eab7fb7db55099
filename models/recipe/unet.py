"""1D U-Net denoiser with EDM preconditioning, FiLM on (text embedding, log sigma).

The waveform is folded ×16 (space-to-depth: [B, 1, T] -> [B, 16, T/16]) before the U-Net,
which makes a CPU-trainable model (the same U-Net on the raw waveform measured 10–30× slower
per step on one CPU thread). Two ×4 downsamplings follow, so T must be
a multiple of 16·4·4 = 256 (`LENGTH_MULTIPLE`). A self-attention block at the bottleneck
(T/256 frames: 16 ms each at 16 kHz) gives global context (key, tempo).

Optionally (`context=True`) the network also hears the given tracks: a small bias-free encoder
(`ContextEncoder`) adds features of the clean context signal at all three resolutions. A zero
context gives exactly zero features, so a zero row gets exactly the context-free answer, and the
encoder's output layers start at zero, so weights without it load unchanged (`load_weights`).

With `pitch=True` the context encoder also hears the given tracks' pitches: fixed constant-Q
filters, one per semitone from E1 to G6, give each bottleneck frame the log magnitude of every
semitone and its pitch class (`PitchFeatures`), and a small learned network maps them onto the
bottleneck. Harmony is then local and explicit where the bass's notes are decided, instead of
something the waveform encoder must learn to hear.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

PATCH = 16
LENGTH_MULTIPLE = PATCH * 4 * 4
RATE = 16000  # the model's sample rate (render.py's default)
PITCH_LOW, PITCHES = 28, 64  # MIDI E1 (41 Hz) to G6 (1568 Hz)
PITCH_KERNEL = 4096  # the longest filter: 256 ms
PITCH_FLOOR = 0.01  # magnitudes are compressed as log(1 + m / PITCH_FLOOR)


def fold(x):
    """Space-to-depth: [B, 1, T] -> [B, PATCH, T / PATCH]."""
    b, _, t = x.shape
    return x.reshape(b, t // PATCH, PATCH).transpose(1, 2)


def add_context(h, ctx, level):
    """h plus the context features of its resolution (h itself in a context-free call)."""
    return h if ctx is None else h + ctx[level]


class ResBlock(nn.Module):
    def __init__(self, c, cond_dim, dilation=1):
        super().__init__()
        self.n1 = nn.GroupNorm(8, c)
        self.c1 = nn.Conv1d(c, c, 3, padding=dilation, dilation=dilation)
        self.n2 = nn.GroupNorm(8, c)
        self.c2 = nn.Conv1d(c, c, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * c)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x, cond):
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = self.n2(h) * (1 + scale) + shift
        return x + self.c2(F.silu(h))


class Attention(nn.Module):
    def __init__(self, c, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, c)
        self.qkv = nn.Conv1d(c, 3 * c, 1)
        self.out = nn.Conv1d(c, c, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        b, c, t = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, t).unbind(1)
        w = torch.softmax(torch.einsum("bhdt,bhds->bhts", q, k) / math.sqrt(c // self.heads), dim=-1)
        h = torch.einsum("bhts,bhds->bhdt", w, v).reshape(b, c, t)
        return x + self.out(h)


def pitch_filters():
    """Complex constant-Q filters [2·PITCHES, 1, PITCH_KERNEL] (cosines, then sines): a Hann
    window of about 34 cycles (its main lobe ends a semitone away), capped at the kernel, centred,
    scaled so a unit sinusoid at the filter's pitch has magnitude 1."""
    n = torch.arange(PITCH_KERNEL, dtype=torch.float64)
    cycles = 2 / (2 ** (1 / 12) - 1)
    rows = []
    for p in range(PITCH_LOW, PITCH_LOW + PITCHES):
        f = 440 * 2 ** ((p - 69) / 12)
        length = min(PITCH_KERNEL, int(round(cycles * RATE / f)))
        start = (PITCH_KERNEL - length) // 2
        w = torch.zeros(PITCH_KERNEL, dtype=torch.float64)
        w[start:start + length] = torch.hann_window(length, periodic=False, dtype=torch.float64)
        phase = 2 * math.pi * f * (n - PITCH_KERNEL / 2) / RATE
        rows.append((w * torch.cos(phase), w * torch.sin(phase), w.sum() / 2))
    cos, sin, norm = (torch.stack(v) for v in zip(*rows))
    return (torch.cat([cos, sin]) / torch.cat([norm, norm])[:, None]).float()[:, None]


class PitchFeatures(nn.Module):
    """[B, 1, T] -> [B, PITCHES + 12, T / 256]: each semitone's compressed magnitude over the
    256-sample frame (filters centred on it), then the 12 pitch classes' means; f(0) = 0 exactly."""

    def __init__(self):
        super().__init__()
        self.register_buffer("filters", pitch_filters(), persistent=False)
        classes = torch.zeros(12, PITCHES)
        for k in range(PITCHES):
            classes[(PITCH_LOW + k) % 12, k] = 12 / PITCHES
        self.register_buffer("classes", classes, persistent=False)

    def forward(self, c):
        hop = LENGTH_MULTIPLE
        z = F.conv1d(c, self.filters, stride=hop, padding=(PITCH_KERNEL - hop) // 2)
        re, im = z.chunk(2, dim=1)
        m = torch.log1p(torch.sqrt(re * re + im * im) / PITCH_FLOOR)
        return torch.cat([m, torch.einsum("kp,bpt->bkt", self.classes, m)], dim=1)


class PitchEncoder(nn.Module):
    """Bottleneck features [B, c, T / 256] from the context's pitches; bias-free, output zero at start."""

    def __init__(self, c, hidden=256):
        super().__init__()
        self.features = PitchFeatures()
        self.inp = nn.Conv1d(PITCHES + 12, hidden, 3, padding=1, bias=False)
        self.mix = nn.Conv1d(hidden, hidden, 5, padding=2, bias=False)
        self.out = nn.Conv1d(hidden, c, 1, bias=False)
        nn.init.zeros_(self.out.weight)

    def forward(self, c):
        return self.out(F.silu(self.mix(F.silu(self.inp(self.features(c))))))


class ContextEncoder(nn.Module):
    """Features of the context waveform at the U-Net's three resolutions, f(0) = 0 exactly.

    Bias-free convolutions and SiLU only; the 1x1 output convolutions are zero-initialised. With
    `pitch`, a `PitchEncoder` adds its features at the bottleneck.
    """

    def __init__(self, chans, pitch=False):
        super().__init__()
        c0, c1, c2 = chans
        self.inp = nn.Conv1d(PATCH, c0, 7, padding=3, bias=False)
        self.down = nn.ModuleList([nn.Conv1d(c0, c1, 4, stride=4, bias=False),
                                   nn.Conv1d(c1, c2, 4, stride=4, bias=False)])
        self.mix = nn.ModuleList([nn.Conv1d(c, c, 3, padding=1, bias=False) for c in (c1, c2)])
        self.outs = nn.ModuleList([nn.Conv1d(c, c, 1, bias=False) for c in chans])
        for o in self.outs:
            nn.init.zeros_(o.weight)
        self.pitch = PitchEncoder(c2) if pitch else None

    def forward(self, c):
        """c: the context waveform [B, 1, T]."""
        h = F.silu(self.inp(fold(c)))
        feats = [self.outs[0](h)]
        for down, mix, out in zip(self.down, self.mix, self.outs[1:]):
            h = F.silu(mix(F.silu(down(h))))
            feats.append(out(h))
        if self.pitch is not None:
            feats[-1] = feats[-1] + self.pitch(c)
        return feats


class UNet(nn.Module):
    """F(x_in, c_noise, emb): the raw network inside the EDM preconditioning."""

    def __init__(self, emb_dim=384, chans=(64, 128, 256), blocks=2, mid_blocks=4, cond_dim=256, context=False,
                 pitch=False):
        super().__init__()
        c0, c1, c2 = chans
        self.freqs = nn.Parameter(torch.randn(64) * 4, requires_grad=False)  # Fourier features of c_noise
        self.cond = nn.Sequential(nn.Linear(emb_dim + 128, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim), nn.SiLU())
        self.inp = nn.Conv1d(PATCH, c0, 3, padding=1)
        self.enc0 = nn.ModuleList([ResBlock(c0, cond_dim, 2 ** i) for i in range(blocks)])
        self.down0 = nn.Conv1d(c0, c1, 4, stride=4)
        self.enc1 = nn.ModuleList([ResBlock(c1, cond_dim, 2 ** i) for i in range(blocks)])
        self.down1 = nn.Conv1d(c1, c2, 4, stride=4)
        self.mid = nn.ModuleList([ResBlock(c2, cond_dim, 2 ** i) for i in range(mid_blocks)])
        self.attn = Attention(c2)
        self.mid2 = ResBlock(c2, cond_dim, 1)
        self.up1 = nn.ConvTranspose1d(c2, c1, 4, stride=4)
        self.skip1 = nn.Conv1d(2 * c1, c1, 1)
        self.dec1 = nn.ModuleList([ResBlock(c1, cond_dim, 2 ** i) for i in range(blocks)])
        self.up0 = nn.ConvTranspose1d(c1, c0, 4, stride=4)
        self.skip0 = nn.Conv1d(2 * c0, c0, 1)
        self.dec0 = nn.ModuleList([ResBlock(c0, cond_dim, 2 ** i) for i in range(blocks)])
        self.out_norm = nn.GroupNorm(8, c0)
        self.out = nn.Conv1d(c0, PATCH, 3, padding=1)
        self.context = ContextEncoder(chans, pitch) if context else None

    def forward(self, x, c_noise, emb, context=None):
        """context: the scaled given tracks [B, 1, T], or None (a context-free call)."""
        b, _, t = x.shape
        f = c_noise[:, None] * self.freqs[None]
        cond = self.cond(torch.cat([emb, torch.sin(f), torch.cos(f)], dim=1))
        ctx = None if context is None else self.context(context)
        h = add_context(self.inp(fold(x)), ctx, 0)
        for blk in self.enc0:
            h = blk(h, cond)
        s0 = h
        h = add_context(self.down0(h), ctx, 1)
        for blk in self.enc1:
            h = blk(h, cond)
        s1 = h
        h = add_context(self.down1(h), ctx, 2)
        for blk in self.mid:
            h = blk(h, cond)
        h = self.mid2(self.attn(h), cond)
        h = self.skip1(torch.cat([self.up1(h), s1], dim=1))
        for blk in self.dec1:
            h = blk(h, cond)
        h = self.skip0(torch.cat([self.up0(h), s0], dim=1))
        for blk in self.dec0:
            h = blk(h, cond)
        h = self.out(F.silu(self.out_norm(h)))
        return h.transpose(1, 2).reshape(b, 1, t)  # depth-to-space


class Denoiser(nn.Module):
    """EDM denoiser D(x, sigma, emb[, context]) = c_skip x + c_out F(c_in x, c_noise, emb, context / sigma_data).

    Holds the null embedding. The context (given tracks, at the data's scale) is optional.
    """

    def __init__(self, sigma_data, emb_dim=384, **kw):
        super().__init__()
        self.sigma_data = float(sigma_data)
        self.net = UNet(emb_dim=emb_dim, **kw)
        self.null_embedding = nn.Parameter(torch.randn(emb_dim) * 0.05)

    def precond(self, sigma):
        sd = self.sigma_data
        s = sigma[:, None, None]
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / torch.sqrt(s**2 + sd**2)
        c_in = 1 / torch.sqrt(s**2 + sd**2)
        return c_skip, c_out, c_in, torch.log(sigma) / 4

    def context_in(self, context):
        """The context as the raw network takes it (unit scale), or None."""
        return None if context is None else context / self.sigma_data

    def forward(self, x, sigma, embedding, context=None):
        c_skip, c_out, c_in, c_noise = self.precond(sigma)
        return c_skip * x + c_out * self.net(c_in * x, c_noise, embedding, self.context_in(context))


def load_weights(model, state):
    """Loads a state dict; only a context encoder may be missing from it (it then stays as initialised).

    Returns the names of the missing parameters."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    wrong = [k for k in missing if not k.startswith("net.context.")]
    if wrong or unexpected:
        raise RuntimeError(f"weights do not fit the model: missing {wrong}, unexpected {unexpected}")
    return missing
