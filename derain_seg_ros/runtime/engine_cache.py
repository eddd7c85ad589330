"""On-disk cache of built TensorRT engines, independent of TensorRT so that it is tested everywhere.

A TensorRT engine is only valid for the ONNX graph, precision, TensorRT version and GPU it was
built for. The key holds all four; the file carries a header with the key and the engine's
sha256, so a stale or corrupt file is rebuilt, never deserialised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from derain_seg_ros.fileio import atomic_write_bytes

log = logging.getLogger(__name__)
MAGIC = b"DSRTRT01"


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    precision: str  # the one really built (resolved by TensorRTEngine.resolve), never merely the one asked
    trt_version: str
    gpu_name: str
    batch: int = 1

    @classmethod
    def for_onnx(
        cls, onnx_path: str | os.PathLike, precision: str, trt_version: str, gpu_name: str, batch: int = 1
    ) -> EngineKey:
        return cls(hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest(), precision, trt_version, gpu_name, batch)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:24]


def cache_path(cache_dir: Path, key: EngineKey) -> Path:
    return cache_dir / f"pipeline_{key.precision}_b{key.batch}_{key.digest()}.engine"


def read_cached(path: Path, key: EngineKey) -> bytes | None:
    """The engine bytes if ``path`` holds a sound engine for ``key``; None (and why, logged) otherwise."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        if not data.startswith(MAGIC):
            raise ValueError("no cache header")
        header_len = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "little")
        header = json.loads(data[len(MAGIC) + 4 : len(MAGIC) + 4 + header_len])
        engine = data[len(MAGIC) + 4 + header_len :]
        if header.get("key") != asdict(key):
            raise ValueError(f"built for {header.get('key')}")
        if hashlib.sha256(engine).hexdigest() != header.get("sha256"):
            raise ValueError("engine bytes do not match their checksum")
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("ignoring engine cache %s: %s; rebuilding", path, exc)
        return None
    return engine


def write_cached(path: Path, key: EngineKey, engine: bytes) -> None:
    header = json.dumps({"key": asdict(key), "sha256": hashlib.sha256(engine).hexdigest()}).encode()
    atomic_write_bytes(path, MAGIC + len(header).to_bytes(4, "little") + header + engine)


def load_or_build(cache_dir: Path, key: EngineKey, builder: Callable[[], bytes]) -> tuple[bytes, bool]:
    """Cached engine bytes for ``key``, or ``builder()``'s, written to the cache. Returns (bytes, built)."""
    path = cache_path(cache_dir, key)
    cached = read_cached(path, key)
    if cached is not None:
        return cached, False
    engine = builder()
    write_cached(path, key, engine)
    return engine, True
