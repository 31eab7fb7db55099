"""Export a checkpoint's EMA weights to the gmsdi-model/1 contract (models/CONTRACT.md).

  python export.py --ckpt work/ckpt/ema.pt --out ../default
  python export.py --context --ckpt work/ckpt_ctx/ema.pt --out DIR   # the context model: 4th input `context`
"""
import argparse
import hashlib
import json
import os
import shutil
import time

import numpy as np
import torch

import dataset
import textenc
import unet

SAMPLE_RATE = 16000
WINDOW = 65536  # trained on 32768 and 65536 crops; the engine windows long audio at 4.1 s
NEGATIVES = {  # the paper's negative prompts (§4), in this model's labels
    "bass": "drums, guitar, piano",
    "drums": "bass",
    "guitar": "bass, drums",
    "piano": "bass, drums",
}
# Chosen on validation songs only. At step 46582 (`gmsdi eval separation` on the 26
# validation songs, 16 kHz mono, first 8 s, 20 steps; see MODEL_CARD.md) the extractor with
# the Wiener post-filter at w = 3 was best (mean SI-SDRi 4.47 dB; w = 1: 3.66, w = 7.5: 4.18;
# without the filter at w = 1: 2.49; separator, drums constrained: -1.11; ensemble: 2.39).
# At step 65024 w = 3 stayed ahead of w = 7.5 (4.88 vs 4.48 dB).
# Separation steps: 20 beat 50 on validation at step 65024 (4.88 vs 4.57 dB; more steps mix
# further towards a posterior sample, away from the mean) and take 2.5x less time; 10 beat 20
# (5.49 dB) at half the time, while 6 collapse (1.70) and DPM-Solver++(2M) at 10 gives 2.46.
# Guidance in a limited interval (on the re-rendered validation songs, 10 steps): guided only
# at 0.1 <= sigma <= 1 (3 of 10 steps) scores 4.98 dB, as much as 20 steps (4.96), at 104 of
# the 160 rows of full guidance (5.47); [0.05, 0.5] gives 4.83, sigma >= 0.3 4.60, 8 steps
# with sigma >= 0.05 4.41.
# Accompaniment: ADPM2 at 13 steps scores as 50 on the harmony metric (harmony.py, 7
# validation songs: chord-tone gain -0.6 vs -1.9 points, 98 vs 99 % below 300 Hz, RMS 0.33
# vs 0.34) at a quarter of the evaluations. Generation keeps 50 steps.
# The int8 CPU denoiser (quantize.py) separates as well as fp32 (validation 4.92 vs 4.98 dB)
# but its generated bass has 61 % of its energy below 300 Hz instead of 98 % (harmony.py,
# 7 validation songs): accompaniment and generation run the fp32 denoiser. Accompaniment
# guided only at 0.1 <= sigma <= 1 keeps the register (99 % below 300 Hz), the level (RMS
# 0.42 of the true bass's, was 0.33) and the chord-tone gain (-0.9 points, was -0.6: chance).
# Passes (validation, step 152773, int8, the defaults above): the mean of 1 / 2 / 3 / 4
# separations of each window scores 5.30 / 5.88 / 5.98 / 6.05 dB; guidance at every step
# instead of the interval gives 5.52 with 1 pass (1.5x the rows) and 6.17 with 2 (3.1x).
# Two passes with the interval are the best per row, at twice the time of one.
DEFAULTS = {
    "separate": {"method": "extractor", "sampler": "euler", "steps": 10, "passes": 2, "s_churn": 20.0, "resamples": 1,
                 "w": 3.0, "constrained": "drums", "negative_prompts": False, "wiener": True,
                 "guidance_min_sigma": 0.1, "guidance_max_sigma": 1.0},
    "extract": {"method": "extractor", "sampler": "euler", "steps": 10, "passes": 2, "s_churn": 20.0, "resamples": 1,
                "w": 3.0, "negative_prompts": True, "wiener": True},
    "accompany": {"sampler": "adpm2", "steps": 13, "w": 3.0, "negative_prompts": True, "cpu_denoiser": False,
                  "guidance_min_sigma": 0.1, "guidance_max_sigma": 1.0},
    "generate": {"sampler": "adpm2", "steps": 50, "w": 3.0, "negative_prompts": True, "cpu_denoiser": False},
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_ema(path, context=False):
    """The EMA model; with context=True the context model (weights without a context encoder get a
    zero one), with its pitch encoder if the weights have one."""
    st = torch.load(path, weights_only=False, map_location="cpu")
    config = st["config"]
    model = unet.Denoiser(config["sigma_data"], config["emb_dim"], context=context or config.get("context", False),
                          pitch=config.get("pitch", False))
    unet.load_weights(model, st["ema"])
    return model.eval(), config, st.get("step", 0)


def export_denoiser(model, path, context=False):
    x = torch.randn(2, 1, 2 * unet.LENGTH_MULTIPLE * 8) * 0.1
    args = (x, torch.tensor([0.5, 0.01]), torch.randn(2, model.null_embedding.numel()))
    names = ["x", "sigma", "embedding"]
    axes = {"x": {0: "B", 2: "T"}, "sigma": {0: "B"}, "embedding": {0: "B"}, "denoised": {0: "B", 2: "T"}}
    if context:
        args += (torch.randn_like(x) * 0.1,)
        names.append("context")
        axes["context"] = {0: "B", 2: "T"}
    torch.onnx.export(model, args, path, opset_version=17, dynamo=False,
                      input_names=names, output_names=["denoised"], dynamic_axes=axes)


def rel_err(out, ref):
    return float(np.abs(out - ref).max() / (np.abs(ref).max() + 1e-12))


def check_context(model, sess, feed, c):
    """Worst ONNX vs torch error with context c (row 0 zero), and with a zero context against
    the context-free model; a zero row must give torch's context-free answer exactly."""
    x, s, e = (torch.from_numpy(feed[k]) for k in ("x", "sigma", "embedding"))
    c[0] = 0
    with torch.no_grad():
        ref = model(x, s, e, c).numpy()
        free = model(x, s, e).numpy()
    assert np.array_equal(ref[0], free[0]), "a zero context row differs from the context-free answer"
    if len(ref) > 1:
        print(f"context: changes the output by up to {rel_err(ref[1:], free[1:]):.2e} (relative)")
    worst = rel_err(sess.run(None, dict(feed, context=c.numpy()))[0], ref)
    zero = sess.run(None, dict(feed, context=np.zeros_like(feed["x"])))[0]
    return max(worst, rel_err(zero, free))


def check_denoiser(model, path, context=False):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for b, t in [(1, 32768), (3, 65536), (2, 256 * 7)]:
        x = torch.randn(b, 1, t, generator=g) * 0.1
        s = torch.exp(torch.randn(b, generator=g) * 2 - 3)
        e = torch.randn(b, model.null_embedding.numel(), generator=g)
        e = e / e.norm(dim=1, keepdim=True)
        feed = {"x": x.numpy(), "sigma": s.numpy(), "embedding": e.numpy()}
        if context:
            worst = max(worst, check_context(model, sess, feed, torch.randn(b, 1, t, generator=g) * 0.1))
            continue
        with torch.no_grad():
            ref = model(x, s, e).numpy()
        worst = max(worst, rel_err(sess.run(None, feed)[0], ref))
    x = np.random.randn(10, 1, WINDOW).astype(np.float32) * 0.1
    feed = {"x": x, "sigma": np.full(10, 0.3, np.float32), "embedding": np.random.randn(10, 384).astype(np.float32)}
    if context:
        feed["context"] = np.random.randn(10, 1, WINDOW).astype(np.float32) * 0.1
    sess.run(None, feed)
    t0 = time.time()
    for _ in range(3):
        sess.run(None, feed)
    return worst, (time.time() - t0) / 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="work/ckpt/ema.pt")
    ap.add_argument("--out", default="../default")
    ap.add_argument("--textenc", default="work/textenc", help="folder with text_encoder.onnx + tokenizer.json")
    ap.add_argument("--version", default=None)
    ap.add_argument("--context", action="store_true", help="export the context model (4th input `context`)")
    ap.add_argument("--report", default="work/export_report.json", help="checks written here (JSON)")
    ap.add_argument("--data", default="work/data/train", help="training songs, to calibrate the int8 denoiser")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    model, config, step = load_ema(args.ckpt, args.context)

    den = os.path.join(args.out, "denoiser.onnx")
    export_denoiser(model, den, args.context)
    err, secs = check_denoiser(model, den, args.context)
    print(f"denoiser: max rel. error onnx vs torch {err:.2e}; batch 10 x {WINDOW} on 1 thread: {secs:.2f} s")
    assert err < 1e-3, err

    if not os.path.exists(os.path.join(args.textenc, "text_encoder.onnx")):
        textenc.export(args.textenc)
    for f in ["text_encoder.onnx", "tokenizer.json"]:
        shutil.copy(os.path.join(args.textenc, f), os.path.join(args.out, f))
    prompts = dataset.STEMS + list(NEGATIVES.values()) + ["electric bass", "drum kit", "acoustic guitar", "keys"]
    enc = textenc.Encoder(os.path.join(args.out, "text_encoder.onnx"), os.path.join(args.out, "tokenizer.json"))
    cos = (enc(prompts) * textenc.torch_reference(prompts)).sum(1)
    print(f"text encoder int8 vs fp32 torch: min cosine {cos.min():.4f}")
    assert cos.min() >= 0.98, cos

    manifest = {
        "format": "gmsdi-model/1",
        "name": "GMSDI default (bass, drums, guitar, piano; 16 kHz mono)",
        "version": args.version or f"0.1.0+step{step}",
        "licence": "MIT (weights); text encoder: see MODEL_CARD.md",
        "sample_rate": SAMPLE_RATE,
        "channels": 1,
        "window": WINDOW,
        "length_multiple": unet.LENGTH_MULTIPLE,
        "sigma_min": 1e-4,
        "sigma_max": 1.0,
        "sigma_data": config["sigma_data"],
        "input_rms": config["input_rms"],
        "denoiser": "denoiser.onnx",
        "text_encoder": "text_encoder.onnx",
        "tokenizer": "tokenizer.json",
        "embedding_dim": config["emb_dim"],
        "null_embedding": [round(float(v), 7) for v in model.null_embedding.detach()],
        "label_separator": dataset.SEPARATOR,
        "stems": {s: {"prompt": s, "negative": NEGATIVES[s]} for s in dataset.STEMS},
        "defaults": DEFAULTS,
        "training": {"steps": step, "recipe": "models/recipe", **({"context": True} if args.context else {})},
        "files": {f: sha256(os.path.join(args.out, f)) for f in ["denoiser.onnx", "text_encoder.onnx", "tokenizer.json"]},
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    int8_err = None
    if not args.context:  # the int8 denoiser for the CPU (quantize.py)
        import quantize
        int8_err = quantize.quantize(args.out, args.data)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"wrote {args.out}: step {step}, {total / 1e6:.1f} MB")
    assert total <= 60e6, "keep the default model small"
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    with open(args.report, "w") as f:
        json.dump({"step": step, "onnx_rel_err": err, "onnx_batch10_window_s": secs,
                   "text_min_cosine": float(cos.min()), "int8_rel_err": int8_err,
                   "total_bytes": total}, f, indent=1)


if __name__ == "__main__":
    main()
