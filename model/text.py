"""English text for the evaluation that ships offline, and cutting token ids into frames.

The default text is the Python language reference in prose, as the standard library carries
it for ``help()`` (``pydoc_data.topics``): every topic in alphabetical order of its name,
separated by blank lines. It is the same on every machine with the same Python minor version.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .gguf_file import ModelError

__all__ = ["shipped_text", "load_text", "Stream", "cut_stream"]


def shipped_text() -> str:
    """The Python reference's topics in prose (``pydoc_data.topics``), about 460 K chars."""
    from pydoc_data.topics import topics
    return "\n\n".join(topics[name] for name in sorted(topics))


def load_text(path) -> str:
    """A UTF-8 text file; refused naming the file if it cannot be read as one."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: cannot be read as UTF-8 text ({error})") from None


@dataclasses.dataclass(frozen=True)
class Stream:
    """A text cut as a streaming video LLM sees its input: ``frames`` frames of
    ``frame_tokens`` tokens prefilled one frame at a time, then ``text_tokens`` tokens
    generated one at a time."""

    ids: tuple[int, ...]
    frames: int
    frame_tokens: int
    text_tokens: int

    @property
    def tokens(self) -> int:
        return len(self.ids)

    @property
    def video_tokens(self) -> int:
        return self.frames * self.frame_tokens


def cut_stream(ids, *, frames: int, frame_tokens: int, text_tokens: int,
               where: str = "text") -> Stream:
    """The first ``frames * frame_tokens + text_tokens`` token ids of a text as a
    :class:`Stream`; a text too short for them is refused naming ``where``."""
    for name, value, least in (("frames", frames, 1), ("frame_tokens", frame_tokens, 1),
                               ("text_tokens", text_tokens, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, not {value!r}")
    need = frames * frame_tokens + text_tokens
    ids = tuple(int(i) for i in ids)
    if len(ids) < need:
        raise ModelError(f"{where}: too short: {len(ids)} tokens, and {frames} frames of "
                         f"{frame_tokens} tokens plus {text_tokens} text tokens need {need}")
    return Stream(ids[:need], frames, frame_tokens, text_tokens)
