"""Train the GMSDI denoiser on mixtures of random stem subsets (EDM; CPU, one thread by default).

Resumable: `python train.py` continues from <ckpt>/last.pt when it exists (or from
--init weights), checkpoints every --ckpt-every seconds and logs JSON lines to
<ckpt>/log.jsonl (loss per sigma band, validation, wall time).

Each checkpoint also writes <ckpt>/ema.pt (EMA weights) and <ckpt>/resume.pt (raw weights
and Adam's moments in bfloat16, about half the size of last.pt). Committed side by side in
weights/, they let `--init weights/ema.pt` continue on another machine with the same
weights, EMA and optimizer state (the moments rounded to bfloat16).

`--context` trains the context model (unet.py): half the examples also get the clean sum of
other stems of the same crop as the given tracks. With `--init` from context-free weights the
new context encoder starts at zero (the model answers as before) with fresh Adam moments, the
old parameters keep theirs, and the learning rate warms up again over 500 steps.

`--pitch` adds the context encoder's pitch features (unet.py) to a context model: with `--init`
from a context model without them, the new encoder starts at zero with fresh Adam moments in its
own parameter group, at `--lr-new` warmed up over 500 steps; everything else resumes exactly.

`--device cuda --amp` trains on a GPU with the network in bfloat16; batches are still drawn on the
CPU with the same random streams, and every file it writes loads on a CPU-only machine.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch

import dataset
import textenc
import unet

P_MEAN, P_STD = -3.0, 1.8  # log-normal training sigmas: median 0.05, ~95 % in [1.4e-3, 1.7]
BANDS = [0.0, 0.01, 0.1, 1.0, math.inf]
VAL_SIGMAS = [0.003, 0.03, 0.3, 1.0]


def band_names():
    return [f"{a:g}-{b:g}" for a, b in zip(BANDS[:-1], BANDS[1:])]


def prompt_embeddings(textenc_dir):
    """{prompt: embedding} from the shipped int8 encoder, cached."""
    cache = os.path.join(textenc_dir, "prompts.npz")
    onnx_path = os.path.join(textenc_dir, "text_encoder.onnx")
    if not os.path.exists(onnx_path):
        textenc.export(textenc_dir)
    if not os.path.exists(cache):
        prompts = dataset.all_prompts()
        emb = textenc.Encoder(onnx_path, os.path.join(textenc_dir, "tokenizer.json"))(prompts)
        np.savez(cache, prompts=np.array(prompts), emb=emb)
    z = np.load(cache)
    return {str(p): e for p, e in zip(z["prompts"], z["emb"])}


def batch(songs, embs, n, length, r, nr, p_ctx=0.0, p_bass=0.0):
    """(mixtures [n, 1, length], embeddings [n, 384], contexts [n, 1, length]: zero rows without one)."""
    xs, es, cs = [], [], []
    for _ in range(n):
        x, p, c = songs.sample_context(length, r, nr, p_ctx, p_bass)
        xs.append(x)
        es.append(embs[p])
        cs.append(c)
    x, c = (torch.from_numpy(np.stack(v))[:, None] for v in (xs, cs))
    return x, torch.from_numpy(np.stack(es)), c


def context_batch(songs, embs, n, length, r, nr):
    """Like batch(), every example with a non-zero context."""
    rows = []
    while len(rows) < n:
        x, e, c = batch(songs, embs, 1, length, r, nr, 1.0)
        if c.any():
            rows.append((x, e, c))
    return tuple(torch.cat(t) for t in zip(*rows))


def bass_batch(songs, embs, n, length, r, nr):
    """Like batch(), every example a bass under chords (dataset.Songs.sample_bass)."""
    return batch(songs, embs, n, length, r, nr, 1.0, 1.0)


def edm_loss(model, x, sigma, emb, context=None, amp=False):
    """Per-example EDM loss (weight 1/c_out^2 folded in: the raw net's target); `amp` runs the
    network in bfloat16 (the loss stays float32)."""
    c_skip, c_out, c_in, c_noise = model.precond(sigma)
    noisy = x + sigma[:, None, None] * torch.randn_like(x)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        f = model.net(c_in * noisy, c_noise, emb, model.context_in(context)).float()
    target = (x - c_skip * noisy) / c_out
    return ((f - target) ** 2).mean(dim=(1, 2))


def save(path, obj):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def compact_state(model, opt, step):
    """Raw weights (float32) and Adam's state with its moments in bfloat16, for git."""
    o = opt.state_dict()
    moments = {i: {k: (v.to(torch.bfloat16) if k.startswith("exp_avg") else v) for k, v in st.items()}
               for i, st in o["state"].items()}
    return {"model": model.state_dict(), "opt": {"state": moments, "param_groups": o["param_groups"]},
            "step": step}


NEW_ENCODERS = ("net.context.pitch.", "net.context.")  # newest first


def optimizer(model, lr):
    """Adam over the model's parameters, the pitch encoder's (if any) in a second group; returns
    it and the parameters' names in its order."""
    named = list(model.named_parameters())
    groups = [[(n, p) for n, p in named if n.startswith(NEW_ENCODERS[0]) is new] for new in (False, True)]
    groups = [g for g in groups if g]
    opt = torch.optim.Adam([{"params": [p for _, p in g]} for g in groups], lr=lr)
    return opt, [n for g in groups for n, _ in g]


def load_adam(opt, order, o):
    """Loads Adam's state saved for the parameters named by `order` (the optimizer's order), or for
    all of them but a newly added encoder's, whose moments then start fresh."""
    saved = sum(len(g["params"]) for g in o["param_groups"])
    prefix = next((p for p in NEW_ENCODERS if sum(not n.startswith(p) for n in order) == saved), None)
    if saved < len(order) and prefix:  # else torch's load_state_dict says what does not fit
        old = [i for i, n in enumerate(order) if not n.startswith(prefix)]
        groups = opt.state_dict()["param_groups"]
        o = {"state": {old[i]: st for i, st in o["state"].items()}, "param_groups": groups}
    opt.load_state_dict(o)


def load_compact_state(path, model, opt, order, step):
    """Restores weights and optimizer from a compact state of the same step; False if absent or stale."""
    if not os.path.exists(path):
        return False
    st = torch.load(path, weights_only=True, map_location="cpu")
    if st["step"] != step:
        print(f"ignoring {path}: step {st['step']} is not the weights' step {step}", flush=True)
        return False
    unet.load_weights(model, st["model"])
    o = st["opt"]
    o["state"] = {i: {k: (v.float() if k.startswith("exp_avg") else v) for k, v in s.items()}
                  for i, s in o["state"].items()}
    load_adam(opt, order, o)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="work/data")
    ap.add_argument("--ckpt", default="work/ckpt")
    ap.add_argument("--textenc", default="work/textenc")
    ap.add_argument("--init", default=None, help="ema.pt weights to start from (e.g. the committed weights/ema.pt)")
    ap.add_argument("--minutes", type=float, default=1e9, help="stop after this much wall time (this run)")
    ap.add_argument("--steps", type=int, default=10**9, help="stop at this total step")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=32768)
    ap.add_argument("--long-prob", type=float, default=0.3, help="share of steps at 2x length, half batch")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--cond-drop", type=float, default=0.1)
    ap.add_argument("--context", action="store_true", help="train the context model (given tracks as input)")
    ap.add_argument("--pitch", action="store_true", help="add the pitch encoder to a context model")
    ap.add_argument("--lr-new", type=float, default=5e-4, help="learning rate of a newly added pitch encoder")
    ap.add_argument("--p-ctx", type=float, default=0.5, help="share of context examples with --context")
    ap.add_argument("--p-bass", type=float, default=0.5,
                    help="share of the context examples that are a bass under chords (the accompaniment job)")
    ap.add_argument("--ckpt-every", type=float, default=300, help="seconds")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="torch device: cpu, cuda")
    ap.add_argument("--amp", action="store_true", help="the network in bfloat16 (mixed precision, for GPUs)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.ckpt, exist_ok=True)
    last = os.path.join(args.ckpt, "last.pt")
    log = open(os.path.join(args.ckpt, "log.jsonl"), "a")

    embs = prompt_embeddings(args.textenc)
    train = dataset.Songs(os.path.join(args.data, "train"))
    val = dataset.Songs(os.path.join(args.data, "val"))
    print(f"train {train.seconds / 60:.1f} min, val {val.seconds / 60:.1f} min, {len(embs)} prompts", flush=True)

    state = torch.load(last, weights_only=False, map_location="cpu") if os.path.exists(last) else None
    init = torch.load(args.init, weights_only=True, map_location="cpu") if args.init and state is None else None
    if state is not None:
        config = state["config"]
    elif init is not None:
        config = init["config"]
    else:
        r, nr = random.Random(1), np.random.default_rng(1)
        xs = np.stack([train.sample(args.length, r, nr)[0] for _ in range(400)])
        config = {"sigma_data": round(float(xs.std()), 4), "emb_dim": textenc.EMB_DIM, "input_rms": dataset.INPUT_RMS}
    if args.context and not config.get("context"):
        if state is not None:
            raise SystemExit(f"{last} is a context-free run: start the context model in another --ckpt with --init")
        config = dict(config, context=True, context_from=init["step"] if init is not None else 0)
    if args.pitch and not config.get("pitch"):
        if state is not None or not config.get("context"):
            raise SystemExit("--pitch goes with --context; to add it to a run, start a new --ckpt with --init")
        config = dict(config, pitch=True, pitch_from=init["step"] if init is not None else 0)
    use_ctx, pitch = config.get("context", False), config.get("pitch", False)
    model = unet.Denoiser(config["sigma_data"], config["emb_dim"], context=use_ctx, pitch=pitch)
    ema = unet.Denoiser(config["sigma_data"], config["emb_dim"], context=use_ctx, pitch=pitch)
    dev = torch.device(args.device)
    model.to(dev)
    ema.to(dev)
    opt, order = optimizer(model, args.lr)
    step, wall = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step, wall = state["step"], state["wall"]
        print(f"resumed at step {step}, {wall / 60:.1f} min", flush=True)
    else:
        if init is not None:  # an ema.pt file: {"ema": weights, "config", "step"}, maybe resume.pt beside it
            step, wall = init["step"], init.get("wall", 0.0)
            compact = os.path.join(os.path.dirname(args.init), "resume.pt")
            if load_compact_state(compact, model, opt, order, step):
                print(f"initialised from {args.init} (step {step}) with weights and optimizer from {compact}",
                      flush=True)
            else:
                unet.load_weights(model, init["ema"])
                print(f"initialised from {args.init} (step {step}), fresh optimizer", flush=True)
            ema.load_state_dict(model.state_dict())  # a new encoder: the EMA starts from the model's
            if unet.load_weights(ema, init["ema"]):
                print("new context encoder (zero output until trained)", flush=True)
        else:
            ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    print(f"params {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M, sigma_data {config['sigma_data']}", flush=True)

    # fixed validation set
    r, nr = random.Random(123), np.random.default_rng(123)
    vx, ve, _ = batch(val, embs, 32, args.length, r, nr)
    vnoise = torch.randn(len(VAL_SIGMAS), *vx.shape, generator=torch.Generator().manual_seed(0))
    if use_ctx:  # other fixed crops, each with a target and given tracks from the same crop
        r, nr = random.Random(124), np.random.default_rng(124)
        cx, ce, cc = context_batch(val, embs, 32, args.length, r, nr)
        cnoise = torch.randn(len(VAL_SIGMAS), *cx.shape, generator=torch.Generator().manual_seed(1))
        r, nr = random.Random(125), np.random.default_rng(125)
        bx, be, bc = bass_batch(val, embs, 32, args.length, r, nr)
        bnoise = torch.randn(len(VAL_SIGMAS), *bx.shape, generator=torch.Generator().manual_seed(2))

    def val_loss(vx, ve, vnoise, vc=None):
        out = {}
        with torch.no_grad():
            for j, s in enumerate(VAL_SIGMAS):
                tot = 0.0
                for k in range(0, len(vx), 8):
                    x, e, z = vx[k:k + 8].to(dev), ve[k:k + 8].to(dev), vnoise[j, k:k + 8].to(dev)
                    c = None if vc is None else vc[k:k + 8].to(dev)
                    sig = torch.full((len(x),), s, device=dev)
                    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.amp):
                        d = ema(x + s * z, sig, e, c).float()
                    c_out = s * ema.sigma_data / math.sqrt(s**2 + ema.sigma_data**2)
                    tot += (((d - x) / c_out) ** 2).mean().item() * len(x)
                out[f"{s:g}"] = round(tot / len(vx), 5)
        return out

    def validate():
        """Context-free loss on the fixed crops; for the context model also the context crops with
        their given tracks (val_ctx) and without them (val_ctx_none), and the same for basses under
        chords (val_bass, val_bass_none)."""
        out = {"val": val_loss(vx, ve, vnoise)}
        if use_ctx:
            out["val_ctx"] = val_loss(cx, ce, cnoise, cc)
            out["val_ctx_none"] = val_loss(cx, ce, cnoise)
            out["val_bass"] = val_loss(bx, be, bnoise, bc)
            out["val_bass_none"] = val_loss(bx, be, bnoise)
        return out

    r, nr = random.Random(args.seed + step), np.random.default_rng(args.seed + step)
    torch.manual_seed(args.seed + step)
    t_start = time.time()
    t_ckpt = t_start
    sums, counts, t_log = np.zeros(4), np.zeros(4), time.time()

    def log_validation(wall_now):
        rec = {"step": step, "wall_min": round(wall_now / 60, 2), **validate()}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(rec, flush=True)

    def checkpoint():
        wall_now = wall + time.time() - t_start
        save(last, {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "step": step, "wall": wall_now, "config": config, "args": vars(args)})
        save(os.path.join(args.ckpt, "ema.pt"), {"ema": ema.state_dict(), "config": config, "step": step,
                                                 "wall": wall_now})
        save(os.path.join(args.ckpt, "resume.pt"), compact_state(model, opt, step))
        log_validation(wall_now)

    if state is None:
        log_validation(wall)  # the starting point of a new run
    p_ctx, p_bass = (args.p_ctx, args.p_bass) if use_ctx else (0.0, 0.0)
    while step < args.steps and time.time() - t_start < args.minutes * 60:
        if r.random() < args.long_prob:
            x, e, c = batch(train, embs, max(1, args.batch // 2), args.length * 2, r, nr, p_ctx, p_bass)
        else:
            x, e, c = batch(train, embs, args.batch, args.length, r, nr, p_ctx, p_bass)
        drop = torch.rand(len(x)) < args.cond_drop
        sigma = torch.exp(P_MEAN + P_STD * torch.randn(len(x)))
        x, e, c, drop = (t.to(dev) for t in (x, e, c, drop))
        e = torch.where(drop[:, None], model.null_embedding[None].expand_as(e), e)
        rates = [(args.lr, config.get("context_from", 0)), (args.lr_new, config.get("pitch_from", 0))]
        for g, (lr, start) in zip(opt.param_groups, rates):
            g["lr"] = lr * min(1.0, (step + 1 - start) / 500)
        per = edm_loss(model, x, sigma.to(dev), e, c if use_ctx else None, args.amp)
        loss = per.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        band = np.digitize(sigma.numpy(), BANDS[1:-1])
        np.add.at(sums, band, per.detach().cpu().numpy())
        np.add.at(counts, band, 1)
        if step % args.log_every == 0:
            now = time.time()
            rec = {"step": step, "wall_min": round((wall + now - t_start) / 60, 2),
                   "s_per_step": round((now - t_log) / args.log_every, 3),
                   "loss": {n: (round(s / c, 5) if c else None) for n, s, c in zip(band_names(), sums, counts)}}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            sums[:], counts[:], t_log = 0, 0, now
        if time.time() - t_ckpt > args.ckpt_every:
            checkpoint()
            t_ckpt = time.time()
    checkpoint()


if __name__ == "__main__":
    main()
