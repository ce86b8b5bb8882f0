"""Decode the runner's tagged JSON (see ``sandbox/encode.py``) into plain values, on the host.

Decoding only rebuilds containers and numbers: nothing the sandbox sent is ever evaluated. Anything
malformed becomes an :class:`Opaque`, which compares equal to nothing.
"""

from __future__ import annotations

from typing import Any

from .values import Opaque, Value

_SPECIAL_FLOATS = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def decode(data: Any) -> Value:
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is float:
        return data
    if type(data) is list:
        return [decode(item) for item in data]
    if type(data) is dict:
        return _decode_tagged(data)
    return Opaque(f"<undecodable {type(data).__name__}>")


def _number(data: Any) -> float | None:
    if type(data) in (int, float):
        return float(data)
    if type(data) is dict and data.get("$float") in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[data["$float"]]
    return None


def _decode_tagged(data: dict) -> Value:
    if "$float" in data:
        number = _number(data)
        return number if number is not None else Opaque("<bad float>")
    if "$complex" in data:
        parts = data["$complex"]
        if type(parts) is list and len(parts) == 2:
            real, imag = _number(parts[0]), _number(parts[1])
            if real is not None and imag is not None:
                return complex(real, imag)
        return Opaque("<bad complex>")
    if "$tuple" in data and type(data["$tuple"]) is list:
        return tuple(decode(item) for item in data["$tuple"])
    if "$dict" in data and type(data["$dict"]) is list:
        return _decode_dict(data["$dict"])
    if "$array" in data:
        return decode(data["$array"])
    if "$opaque" in data:
        return Opaque(str(data["$opaque"]), str(data.get("type", "")))
    return Opaque("<unknown tag>")


def _decode_dict(pairs: list) -> Value:
    result: dict = {}
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            return Opaque("<bad dict>")
        key = decode(pair[0])
        if isinstance(key, list):
            key = tuple(key)
        try:
            result[key] = decode(pair[1])
        except TypeError:  # an unhashable key
            return Opaque("<dict with unhashable keys>")
    return result
