"""Where stdin/stdout benchmarks come from: JSONL / JSON files (plain or gzipped) and Parquet files (read
with pyarrow), a folder of them, or a hub dataset id (through `datasets`, when it is installed and the
hub reachable); and `load_io_benchmark`, which picks the loader.

Parquet is read in record batches, so a large split (code_contests' train files are hundreds of MB) is
never held as one table. Not for: interpreting records (`code_contests.py`, `apps.py`).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .io_problem import IOProblem
from .source import BenchmarkError, BenchmarkFormatError, Record, files_in, hub_records, locate, read_file

IO_BENCHMARKS = ("code-contests", "apps")
PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.json", "*.json.gz", "*.parquet")


def read_parquet(path: Path) -> Iterator[Record]:
    """Records of one Parquet file, one row each (origin `file#row`)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BenchmarkError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        f = pq.ParquetFile(path)
        row = 0
        for batch in f.iter_batches(batch_size=64):
            for obj in batch.to_pylist():
                yield Record(obj, f"{path}#{row}")
                row += 1
    except OSError as e:
        raise BenchmarkFormatError(f"{path}: cannot read as Parquet ({e})") from None


def data_files(path_or_id: str | Path) -> list[Path]:
    """The files a local benchmark path stands for (one file, or the benchmark files in a folder, sorted);
    empty for a hub id."""
    where = locate(path_or_id)
    if isinstance(where, str):
        return []
    if where.is_dir():
        found = files_in(where, PATTERNS, recursive=True)
        if not found:
            raise BenchmarkError(f"{where}: no .jsonl, .json or .parquet files")
        return found
    return [where]


def records(path_or_id: str | Path, split: str = "test") -> Iterator[Record]:
    """Every record of a file, a folder (its files in sorted order) or a hub dataset's `split`."""
    where = locate(path_or_id)
    if isinstance(where, str):
        yield from hub_records(where, [None], split=split)
        return
    for f in data_files(where):
        yield from (read_parquet(f) if f.name.endswith(".parquet") else read_file(f))


def load_io_benchmark(name: str, path_or_id: str | Path, split: str = "test") -> list[IOProblem]:
    """All problems of a stdin/stdout benchmark (`IO_BENCHMARKS`) from a file, a folder or a hub id
    (`split` applies to hub ids only). The same problem id twice is an error naming both places."""
    key = name.strip().lower().replace("_", "-")
    if key == "code-contests":
        from .code_contests import from_record
    elif key == "apps":
        from .apps import from_record
    else:
        raise BenchmarkError(f"unknown stdin/stdout benchmark {name!r}; known: {', '.join(IO_BENCHMARKS)}")
    problems: list[IOProblem] = []
    seen: dict[str, str] = {}
    for i, rec in enumerate(records(path_or_id, split)):
        p = from_record(rec, i)
        if p.id in seen:
            raise BenchmarkFormatError(f"{rec.origin}: duplicate problem {p.id!r} (first at {seen[p.id]})")
        seen[p.id] = rec.origin
        problems.append(p)
    if not problems:
        raise BenchmarkError(f"{path_or_id}: no {key} problems found")
    return problems
