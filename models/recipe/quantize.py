"""Quantize an exported model's denoiser to int8 for the CPU and name it in model.json as
`denoiser_cpu` (models/CONTRACT.md); GPU providers keep the fp32 `denoiser`.

Static quantization in ONNX Runtime's QDQ format: the convolutions' weights per output
channel (int8), their inputs per tensor (uint8), with ranges calibrated (min-max) on noisy
crops of the training songs at noise levels across the schedule, under the prompts training
used. Convolutions are about 70 % of the denoiser's time on a CPU.

  python quantize.py --model ../default --data work/data/train
"""
import argparse
import json
import os
import random
import tempfile

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

import dataset
import textenc
from export import sha256

OUT = "denoiser_int8.onnx"


def examples(manifest, model_dir, data, count, seed):
    """`count` denoiser feeds: a training crop plus noise at a log-uniform sigma (a fifth at
    sigma_max), under its training prompt (a tenth unconditional), zero context if any."""
    r, nr = random.Random(seed), np.random.default_rng(seed)
    songs = dataset.Songs(data)
    enc = textenc.Encoder(os.path.join(model_dir, manifest["text_encoder"]),
                          os.path.join(model_dir, manifest["tokenizer"]))
    null = np.array(manifest["null_embedding"], np.float32)
    lo, hi = np.log(manifest["sigma_min"]), np.log(manifest["sigma_max"])
    multiple = manifest["length_multiple"]
    longest = max(q.shape[1] for q in songs.audio) // multiple * multiple
    t = min(manifest["window"], longest)  # the smoke test's songs are shorter than a window
    feeds = []
    for _ in range(count):
        mix, prompt = songs.sample(t, r, nr)
        sigma = manifest["sigma_max"] if r.random() < 0.2 else float(np.exp(r.uniform(lo, hi)))
        x = (mix + sigma * nr.standard_normal(t)).astype(np.float32)
        emb = null if r.random() < 0.1 else enc([prompt])[0]
        feeds.append({"x": x[None, None], "sigma": np.array([sigma], np.float32), "embedding": emb[None]})
    return feeds


class Reader(CalibrationDataReader):
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def rel_err(a, b):
    return float(np.sqrt(((a - b) ** 2).mean() / ((b**2).mean() + 1e-20)))


def check(fp32, int8, feeds):
    """Largest relative RMS error of the int8 denoiser against the fp32 one on `feeds`."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    ref = ort.InferenceSession(fp32, so, providers=["CPUExecutionProvider"])
    q = ort.InferenceSession(int8, so, providers=["CPUExecutionProvider"])
    return max(rel_err(q.run(None, f)[0], ref.run(None, f)[0]) for f in feeds)


def quantize(model_dir, data, count=32, seed=0):
    """Writes model_dir/denoiser_int8.onnx and names it in model_dir/model.json."""
    path = os.path.join(model_dir, "model.json")
    with open(path) as f:
        manifest = json.load(f)
    fp32 = os.path.join(model_dir, manifest["denoiser"])
    names = [i.name for i in ort.InferenceSession(fp32, providers=["CPUExecutionProvider"]).get_inputs()]
    assert names == ["x", "sigma", "embedding"], f"only models without a context input: {names}"
    feeds = examples(manifest, model_dir, data, count + 4, seed)
    out = os.path.join(model_dir, OUT)
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        quant_pre_process(fp32, pre, skip_symbolic_shape=True)
        quantize_static(pre, out, Reader(feeds[:count]), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    err = check(fp32, out, feeds[count:])
    manifest["denoiser_cpu"] = OUT
    manifest.setdefault("files", {})[OUT] = sha256(out)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {out}: {os.path.getsize(out) / 1e6:.1f} MB, largest relative RMS error against fp32 on 4 training crops {err:.3f}")
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="../default")
    ap.add_argument("--data", default="work/data/train", help="training songs (render.py), for calibration")
    ap.add_argument("--examples", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    quantize(args.model, args.data, args.examples, args.seed)


if __name__ == "__main__":
    main()
