"""Shared fixtures of the VST3 host tests: where the bundle is, and a reader
for the plugin's result clips (32-bit float WAV with a BWF ``bext`` chunk)."""

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))


def bundle_path() -> Path:
    """``$GMSDI_VST3_BUNDLE``, else ``target/bundled/gmsdi-plugin.vst3``
    (``$CARGO_TARGET_DIR`` honoured, relative to the repository root)."""
    if os.environ.get("GMSDI_VST3_BUNDLE"):
        return Path(os.environ["GMSDI_VST3_BUNDLE"])
    target = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
    return target / "bundled" / "gmsdi-plugin.vst3"


FIXTURE_MODEL = ROOT / "models" / "fixtures" / "gaussian"


@pytest.fixture(scope="session")
def bundle() -> str:
    path = bundle_path()
    if not (path / "Contents").is_dir():
        message = f"VST3 bundle not found at {path}: run `cargo xtask bundle` first"
        if os.environ.get("GMSDI_VST3_REQUIRED"):
            pytest.fail(message)  # `cargo xtask test` built it: missing is a failure
        pytest.skip(message)
    return str(path)


def read_clip(path):
    """(samples as (channels, frames) float32, rate, bext TimeReference)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{path} is not a WAV file"
    pos, fmt, samples, time_ref = 12, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"bext":
            time_ref = struct.unpack("<Q", body[338:346])[0]
        elif cid == b"data":
            samples = np.frombuffer(body, dtype="<f4")
        pos += 8 + size + (size & 1)
    assert fmt is not None and samples is not None, f"{path}: no fmt or data chunk"
    tag, channels, rate, _, _, bits = fmt
    assert (tag, bits) == (3, 32), f"{path}: not 32-bit float (format {tag}, {bits} bits)"
    return samples.reshape(-1, channels).T.copy(), rate, time_ref
