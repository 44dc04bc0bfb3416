"""Where benchmark records come from: JSONL files (plain or gzipped), JSON arrays, folders of them, or a
hub dataset id; and the errors a loader raises. Not for: interpreting records (each loader does that).

Every record comes with its origin (`file:line`) so a bad one can be named precisely.
"""
from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


class BenchmarkError(ValueError):
    """The benchmark cannot be loaded as asked (missing path, unknown language, no problems)."""


class BenchmarkFormatError(BenchmarkError):
    """A record is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Record:
    data: dict
    origin: str  # "path:line" or "hub-id[config]#index"

    def field(self, key: str, required: bool = True, default=None):
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if required and key not in self.data:
            raise BenchmarkFormatError(f"{self.origin}: missing field {key!r}")
        return default

    def text(self, key: str, required: bool = True) -> str:
        value = self.field(key, required, default="")
        if not isinstance(value, str):
            raise BenchmarkFormatError(f"{self.origin}: field {key!r} should be a string, "
                                       f"got {type(value).__name__}")
        return value


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_file(path: Path) -> Iterator[Record]:
    """Records of one .jsonl / .jsonl.gz file (one object a line) or .json file (an array of objects)."""
    try:
        with _open_text(path) as f:
            if path.name.endswith((".json", ".json.gz")):
                yield from _read_json_array(path, f.read())
                return
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BenchmarkFormatError(
                        f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
                if not isinstance(obj, dict):
                    raise BenchmarkFormatError(f"{path}:{lineno}: expected a JSON object, "
                                               f"got {type(obj).__name__}")
                yield Record(obj, f"{path}:{lineno}")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise BenchmarkError(f"{path}: no such file") from None
        raise BenchmarkFormatError(f"{path}: cannot read ({e})") from None


def _read_json_array(path: Path, text: str) -> Iterator[Record]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise BenchmarkFormatError(
            f"{path}:{e.lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise BenchmarkFormatError(f"{path}: expected a JSON array of objects")
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            raise BenchmarkFormatError(f"{path}: item {i} is not a JSON object")
        yield Record(obj, f"{path}#{i}")


def files_in(folder: Path, patterns: Iterable[str], recursive: bool = False) -> list[Path]:
    """Benchmark files in a folder, sorted; a `metadata.json` {lang: file} (as mxeval ships) picks the
    current file of each language when present."""
    meta = folder / "metadata.json"
    if meta.is_file():
        try:
            names = json.loads(meta.read_text())
        except json.JSONDecodeError as e:
            raise BenchmarkFormatError(f"{meta}:{e.lineno}: malformed JSON ({e.msg})") from None
        if isinstance(names, dict):
            picked = [folder / str(n) for n in names.values() if (folder / str(n)).is_file()]
            if picked:
                return sorted(picked)
    glob = folder.rglob if recursive else folder.glob
    found = {p for pat in patterns for p in glob(pat) if p.is_file()}
    return sorted(found)


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_like_hub_id(text: str) -> bool:
    return bool(_HUB_ID.match(text)) and not text.startswith((".", "/"))


def locate(path_or_id: str | Path) -> Path | str:
    """An existing path, or a hub id (when it looks like one and `datasets` is importable); else raise."""
    path = Path(path_or_id).expanduser()
    if path.exists():
        return path
    text = str(path_or_id)
    if looks_like_hub_id(text):
        try:
            import datasets  # noqa: F401  (only to know whether hub loading is possible)
        except ImportError:
            raise BenchmarkError(f"{text}: no such file or folder (and `datasets` is not installed, "
                                 "so it cannot be a hub dataset id)") from None
        return text
    raise BenchmarkError(f"{text}: no such file or folder")


def hub_records(dataset_id: str, configs: Iterable[str | None], split: str = "test") -> Iterator[Record]:
    """Records of a hub dataset, one config after another (`datasets` is imported here, lazily)."""
    import datasets

    for config in configs:
        try:
            ds = datasets.load_dataset(dataset_id, config, split=split)
        except Exception as e:  # noqa: BLE001  (network, unknown config, script datasets: one message)
            where = f"{dataset_id}[{config}]" if config else dataset_id
            raise BenchmarkError(f"{where}: cannot load from the hub ({type(e).__name__}: {e})") from None
        for i, row in enumerate(ds):
            yield Record(dict(row), f"{dataset_id}[{config}]#{i}")


def select(records: Iterable[Record], from_record: Callable[[Record], object], wanted: set[str] | None) -> Iterator:
    """The problems of the wanted languages (all when None), in file order. The same task twice (same
    language and id) is an error naming both places."""
    seen: dict[tuple[str, str], str] = {}
    for rec in records:
        p = from_record(rec)
        if wanted is not None and p.lang not in wanted:
            continue
        key = (p.lang, p.id)
        if key in seen:
            raise BenchmarkFormatError(f"{rec.origin}: duplicate task {p.id} ({p.lang}; first at {seen[key]})")
        seen[key] = rec.origin
        yield p
