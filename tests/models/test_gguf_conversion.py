"""Converting a package's GGUF file: once, whole, even when parallel jobs ask for it at the same time (the
conversion itself replaced by a slow stand-in)."""

import threading
import time
from pathlib import Path

import pytest

from scalingdown.models import gguf


def test_parallel_jobs_convert_the_file_once_and_all_find_it_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "model.gguf"
    source.write_bytes(b"GGUF")
    conversions: list[Path] = []

    def slow_conversion(_gguf: Path, out: Path) -> None:
        conversions.append(out)
        time.sleep(0.3)
        (out / "model.safetensors").write_text("weights")

    monkeypatch.setattr(gguf, "package_gguf", lambda _package: (source, "0" * 64))
    monkeypatch.setattr(gguf, "convert_gguf", slow_conversion)
    target = tmp_path / "cache" / "llm-0000"
    found: list[bool] = []

    def job() -> None:
        directory = gguf.ensure_converted("llm", target)
        found.append((directory / "model.safetensors").read_text() == "weights")

    jobs = [threading.Thread(target=job) for _ in range(3)]
    for thread in jobs:
        thread.start()
    for thread in jobs:
        thread.join()
    assert len(conversions) == 1 and found == [True, True, True]
    assert sorted(path.name for path in target.parent.iterdir()) == ["llm-0000", "llm-0000.lock"]
