"""The results table of a batch: one row per input, as JSON lines (`.jsonl`) or Parquet (`.parquet`).

Columns: input, output, status (ok / error / skipped), error, faces (how
many), identity_scores (per face, in the embedder's metric), seconds,
worker (host:pid), report (the full row as JSON). Rows are appended as
they finish, so an interrupted run keeps the rows it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facekit.errors import FaceKitError

SUFFIXES = (".jsonl", ".parquet")
PARQUET_ROWS_PER_GROUP = 1000


def table_row(row: dict[str, object]) -> dict[str, object]:
    """The fixed columns of the results table for one report row."""
    faces = row.get("faces")
    face_list = faces if isinstance(faces, list) else []
    return {
        "input": str(row.get("input", "")),
        "output": str(row.get("output", "") or ""),
        "status": str(row.get("status", "")),
        "error": str(row.get("error", "") or ""),
        "faces": len(face_list),
        "identity_scores": [score for face in face_list if (score := identity_score(face)) is not None],
        "seconds": float(row.get("seconds", 0.0) or 0.0),  # type: ignore[arg-type]
        "worker": str(row.get("worker", "")),
        "report": json.dumps(row, default=str, sort_keys=True),
    }


def identity_score(face: object) -> float | None:
    """The face's identity score: restore's before/after, swap's source similarity, frontalize's input/output."""
    if not isinstance(face, dict):
        return None
    for key in ("identity_distance", "identity_similarity", "source_distance", "source_similarity"):  # docs/reports.md
        if isinstance(face.get(key), (int, float)):
            return float(face[key])
    identity = face.get("identity")
    for key in ("distance", "similarity"):
        if isinstance(identity, dict) and isinstance(identity.get(key), (int, float)):
            return float(identity[key])
    return None


class ResultsTable:
    """Appends rows to a .jsonl or .parquet file; close() finishes it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in SUFFIXES:
            raise FaceKitError(f"--results {path}: use a .jsonl or .parquet name.", "e.g. --results results.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending: list[dict[str, object]] = []
        self._writer: Any = None
        self._jsonl = self.path.open("w", encoding="utf-8") if self.path.suffix.lower() == ".jsonl" else None

    def add(self, row: dict[str, object]) -> None:
        columns = table_row(row)
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(columns) + "\n")
            self._jsonl.flush()
            return
        self._pending.append(columns)
        if len(self._pending) >= PARQUET_ROWS_PER_GROUP:
            self._flush_parquet()

    def _flush_parquet(self) -> None:
        if not self._pending:
            return
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise FaceKitError(
                "A Parquet results table needs pyarrow.", "pip install -r requirements-ray.txt, or use --results NAME.jsonl"
            ) from None
        table = pa.Table.from_pylist(self._pending, schema=_schema(pa))
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.path), table.schema)
        self._writer.write_table(table)
        self._pending = []

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
            return
        self._flush_parquet()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> ResultsTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _schema(pa: Any) -> Any:
    return pa.schema(
        [
            ("input", pa.string()),
            ("output", pa.string()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("faces", pa.int32()),
            ("identity_scores", pa.list_(pa.float64())),
            ("seconds", pa.float64()),
            ("worker", pa.string()),
            ("report", pa.string()),
        ]
    )
