"""Length-prefixed JSON frames: the one wire format between the host and the sandbox template.

A frame is a 4-byte unsigned big-endian length N, then N bytes of UTF-8 JSON holding one object
(see PROTOCOL.md). Both ends use this module: the template loads it from its own folder, the host
imports it as ``pytest_sebench.sandbox_files.frames``. Standard library only.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Iterator

HEADER = struct.Struct(">I")


class FrameError(ValueError):
    """The byte stream does not hold well-formed frames (or a frame is over the reader's limit)."""


def encode_frame(message: dict[str, Any]) -> bytes:
    # allow_nan=False: NaN is not JSON; values that need it travel as tagged data (encode.py).
    body = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise FrameError(f"a frame is not UTF-8 JSON: {error}") from None
    if not isinstance(message, dict):
        raise FrameError("a frame does not hold a JSON object")
    return message


class FrameReader:
    """Turns bytes, as they arrive in chunks of any size, into messages.

    ``limit`` bounds one frame's body; a longer length prefix is refused before any of it is
    buffered, so a broken or hostile peer cannot make the reader hold more than that.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> Iterator[dict[str, Any]]:
        self._buffer += chunk
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > self.limit:
                raise FrameError(f"a frame of {size} bytes is over the limit of {self.limit}")
            end = HEADER.size + size
            if len(self._buffer) < end:
                return
            body = bytes(self._buffer[HEADER.size:end])
            del self._buffer[:end]
            yield decode_body(body)
