"""The controller's store of full item records: on disk as they arrive, read back one at a time.

With 259 items x 64 samples the records' text (code, cases, responses, reasoning) is hundreds of
megabytes of Python objects; the controller keeps the light form of each record in memory and the
full JSON here, one line per record, so its memory stays flat in the number of samples.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Iterable, Iterator


class RecordSpool:
    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(mode="w+b", prefix="sebench-records-")  # noqa: SIM115  (gone when closed)
        self._where: dict[str, tuple[int, int]] = {}  # item id -> (offset, length) of its latest line

    def put(self, item_id: str, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, allow_nan=False).encode() + b"\n"
        self._file.seek(0, os.SEEK_END)
        self._where[item_id] = (self._file.tell(), len(line))
        self._file.write(line)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._where

    def get(self, item_id: str) -> dict[str, Any]:
        offset, length = self._where[item_id]
        self._file.seek(offset)
        data: dict[str, Any] = json.loads(self._file.read(length))
        return data

    def in_order(self, ids: Iterable[str]) -> Iterator[dict[str, Any]]:
        """The full records of these ids (those it holds), one at a time."""
        for item_id in ids:
            if item_id in self._where:
                yield self.get(item_id)

    def close(self) -> None:
        self._file.close()
