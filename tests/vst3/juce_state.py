"""Reads and writes the plugin's nice-plug JSON state inside the state blob
that JUCE hosts (pedalboard, dawdreamer) save for a VST3 plugin: ``VC2!``,
a little-endian size, then XML whose ``IComponent`` element holds the
component state in JUCE's own base64 (``MemoryBlock::toBase64Encoding``)."""

import json
import re
import struct

_TABLE = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
_INDEX = {c: i for i, c in enumerate(_TABLE)}
_COMPONENT = re.compile(rb"<IComponent>([^<]*)</IComponent>")


def juce_b64decode(text: str) -> bytes:
    size, _, chars = text.partition(".")
    size = int(size)
    value = 0
    for i, c in enumerate(chars):
        value |= _INDEX[c] << (6 * i)
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def juce_b64encode(data: bytes) -> str:
    value = int.from_bytes(data, "little")
    n = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(_TABLE[(value >> (6 * i)) & 63] for i in range(n))


def _split(blob: bytes):
    if blob[:4] != b"VC2!":
        raise ValueError(f"not a JUCE VST3 state blob: {blob[:8]!r}")
    (size,) = struct.unpack("<I", blob[4:8])
    xml = blob[8 : 8 + size]
    m = _COMPONENT.search(xml)
    if not m:
        raise ValueError("no IComponent element in the state")
    return xml, m


def plugin_state(blob: bytes) -> dict:
    """The plugin's nice-plug state (``params`` and ``fields``) in ``blob``."""
    _, m = _split(blob)
    return json.loads(juce_b64decode(m.group(1).decode()).rstrip(b"\0"))


def gmsdi_field(blob: bytes) -> dict:
    """The plugin's persisted ``gmsdi`` JSON object in ``blob``."""
    return json.loads(plugin_state(blob)["fields"]["gmsdi"])


def with_plugin_state(blob: bytes, state: dict) -> bytes:
    """``blob`` with its component state replaced by ``state``."""
    xml, m = _split(blob)
    encoded = juce_b64encode(json.dumps(state).encode()).encode()
    xml = xml[: m.start(1)] + encoded + xml[m.end(1) :]
    return b"VC2!" + struct.pack("<I", len(xml)) + xml


def with_gmsdi_field(blob: bytes, update) -> bytes:
    """``blob`` with its ``gmsdi`` field passed through ``update(dict)``."""
    state = plugin_state(blob)
    field = json.loads(state["fields"]["gmsdi"])
    update(field)
    state["fields"]["gmsdi"] = json.dumps(field)
    return with_plugin_state(blob, state)
