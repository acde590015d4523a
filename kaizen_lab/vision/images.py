"""Images for vision models: load from a path, bytes, a PIL image, a data URL or an http(s) URL; downscale; encode.

Pillow is imported on first use only (``import kaizen_lab`` stays light). Every image becomes an OpenAI-style
``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`` part, which litellm translates for
Anthropic, Gemini and Ollama; an http(s) URL is passed through as is where the provider fetches URLs itself.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SIDE",
    "PreparedImage",
    "fit_size",
    "prepare_image",
]

DEFAULT_MAX_SIDE = 1568  # Anthropic's recommended longest side; OpenAI "high" detail tiles fit it too
DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # Anthropic's per-image limit (the smallest of the big providers')
THUMBNAIL_SIDE = 160
_MIN_SIDE_ON_SHRINK = 256  # below this longest side an image is useless to a model: give up instead
_BASE64_RE = re.compile(r"[A-Za-z0-9+/=\r\n]+")


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            'Images need Pillow, which is not installed: pip install "pillow>=10" (the kaizen-lab "vision" extra).'
        ) from e
    return Image


@dataclass
class PreparedImage:
    """One image as sent: ``url`` is a data URL (or an http(s) URL passed through), with its sizes before and
    after downscaling. ``original_size``/``sent_size`` are (width, height); ``None`` for a URL we did not fetch."""

    source: str
    url: str
    mime: str | None = None
    original_size: tuple[int, int] | None = None
    sent_size: tuple[int, int] | None = None
    original_bytes: int | None = None
    sent_bytes: int | None = None
    thumbnail: str | None = field(default=None, repr=False)  # a small data URL for notebook display

    @property
    def resized(self) -> bool:
        return self.original_size is not None and self.original_size != self.sent_size

    def part(self, detail: str | None = None) -> dict[str, Any]:
        """The OpenAI-format content part (``detail`` is OpenAI's "low"/"high"/"auto"; others ignore it)."""
        image_url: dict[str, Any] = {"url": self.url}
        if detail:
            image_url["detail"] = detail
        return {"type": "image_url", "image_url": image_url}

    def describe(self) -> str:
        """``receipt.png: 4000×3000 → 1568×1176 JPEG, 210 KB`` (what the result reports)."""
        if self.sent_size is None:
            return f"{self.source}: passed by URL (not fetched here)"
        w, h = self.sent_size
        kind = (self.mime or "").split("/")[-1].upper()
        size = f"{w}×{h}"
        if self.resized and self.original_size:
            size = f"{self.original_size[0]}×{self.original_size[1]} → {size}"
        return f"{self.source}: {size} {kind}, {_human(self.sent_bytes or 0)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mime": self.mime,
            "original_size": self.original_size,
            "sent_size": self.sent_size,
            "original_bytes": self.original_bytes,
            "sent_bytes": self.sent_bytes,
        }


def _human(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


def fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size keeping the aspect ratio with the longest side at most ``max_side`` (never enlarged)."""
    w, h = size
    if max_side <= 0:
        raise ConfigurationError(f"max_image_side must be positive, got {max_side}.")
    longest = max(w, h)
    if longest <= max_side:
        return w, h
    scale = max_side / longest
    return max(1, round(w * scale)), max(1, round(h * scale))


def _looks_like_base64(text: str) -> bool:
    """Base64 image data where a path was expected: a PNG/JPEG/GIF/WebP header, or a long string that decodes."""
    s = text.strip()
    if len(s) >= 16 and s.startswith(("iVBOR", "/9j/", "R0lGOD", "UklGR")):  # PNG, JPEG, GIF, WebP
        return True
    if len(s) < 64 or not _BASE64_RE.fullmatch(s):
        return False
    try:
        base64.b64decode("".join(s.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _data_url_bytes(url: str) -> bytes:
    try:
        header, data = url.split(",", 1)
    except ValueError:
        raise ConfigurationError("A data URL must look like 'data:image/png;base64,...'.") from None
    if ";base64" not in header:
        raise ConfigurationError("Only base64 data URLs are supported ('data:image/png;base64,...').")
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as e:
        raise ConfigurationError(f"The data URL's base64 part does not decode: {e}.") from None


def _read_path(text: str | os.PathLike[str]) -> tuple[bytes, str]:
    path = Path(text).expanduser()
    try:
        exists = path.exists()
    except OSError:  # e.g. a long base64 string: "File name too long"
        exists = False
    if not exists:
        if isinstance(text, str) and _looks_like_base64(text):
            raise ConfigurationError(
                f"image={text[:24]}... looks like base64 data, not a file path; pass "
                "image=base64.b64decode(data) (raw bytes) or image='data:image/png;base64,...'."
            )
        raise FileNotFoundError(f"No image file at {str(path)!r} (resolved to {str(path.resolve())!r}).")
    if path.is_dir():
        raise ConfigurationError(f"{str(path)!r} is a folder, not an image file.")
    return path.read_bytes(), path.name


def _open(data: bytes, source: str) -> Any:
    Image = _pil()
    if not data:
        raise ConfigurationError(f"{source} is empty (0 bytes), not an image.")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Image.DecompressionBombError as e:
        raise ConfigurationError(
            f"{source} is too large to open safely ({e}); shrink it before passing it to the model."
        ) from None
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError... for non-images
        head = data[:8]
        kind = "a PDF" if head.startswith(b"%PDF") else "text" if _is_text(data[:512]) else "not a format Pillow reads"
        raise ConfigurationError(
            f"{source} is not an image ({kind}; Pillow said: {type(e).__name__}: {str(e)[:120]}). "
            "Pass a PNG, JPEG, WebP or GIF file, its bytes, or a PIL image."
        ) from None
    return img


def _is_text(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_alpha(img: Any) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _encode(img: Any, fmt: str, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(buf, format="JPEG", quality=quality, optimize=True)
    else:
        if img.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            img = img.convert("RGBA" if _has_alpha(img) else "RGB")
        img.save(buf, format="PNG", optimize=quality < 85)
    return buf.getvalue()


def _thumbnail(img: Any) -> str:
    thumb = img.copy()
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    fmt = "PNG" if _has_alpha(thumb) else "JPEG"
    data = _encode(thumb, fmt, quality=70)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(data).decode()}"


def prepare_image(
    image: Any,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    pass_urls: bool = True,
    fetch: Any = None,
) -> PreparedImage:
    """Load ``image`` (a path, ``bytes``, a PIL image, a data URL or an http(s) URL), downscale it so its longest side
    is at most ``max_side`` and its encoding at most ``max_bytes``, and encode it as PNG (alpha, line art, text)
    or JPEG (photos).

    An http(s) URL is passed through when ``pass_urls`` (the provider fetches it); otherwise ``fetch(url)`` must
    return its bytes (the agent fetches it for providers that only take inline images, such as Ollama).
    """
    Image = _pil()
    data: bytes | None = None
    source = "image"
    if isinstance(image, os.PathLike):
        data, source = _read_path(image)
    elif isinstance(image, str):
        text = image.strip()
        if text.startswith(("http://", "https://")):
            if pass_urls:
                return PreparedImage(source=text, url=text)
            if fetch is None:
                raise ConfigurationError(f"This provider does not take image URLs; download {text} and pass its bytes.")
            data, source = fetch(text), text.rsplit("/", 1)[-1].split("?")[0] or text
        elif text.startswith("data:"):
            data, source = _data_url_bytes(text), "data URL"
        else:
            data, source = _read_path(image)
    elif isinstance(image, bytes | bytearray | memoryview):
        data, source = bytes(image), "bytes"
        if _looks_like_base64(data[:200].decode("latin-1")) and not data.startswith((b"\x89PNG", b"\xff\xd8")):
            raise ConfigurationError(
                "image=bytes holds base64 text, not image bytes; pass image=base64.b64decode(data)."
            )
    elif isinstance(image, Image.Image):
        source = getattr(image, "filename", "") or "PIL image"
        source = Path(source).name if source != "PIL image" else source
    else:
        raise ConfigurationError(
            f"Cannot use a {type(image).__name__} as an image; pass a file path, bytes, a PIL image or an http(s) URL."
        )

    img = _open(data, source) if data is not None else image
    original_format = img.format if data is not None else None
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # an animated GIF/WebP: its first frame
    from PIL import ImageOps

    rotated = img.getexif().get(0x0112, 1) not in (0, 1)  # an EXIF orientation other than "as stored"
    if rotated:
        img = ImageOps.exif_transpose(img)  # phone photos: rotate as displayed
    original_size = img.size
    original_bytes = len(data) if data is not None else None

    target = fit_size(original_size, max_side)
    alpha = _has_alpha(img)
    fmt = "PNG" if alpha or original_format in ("PNG", "GIF", "BMP", "TIFF") or original_format is None else "JPEG"
    if original_format is None and img.mode in ("RGB", "L") and max(original_size) > 1024:
        fmt = "JPEG"  # a large in-memory RGB image is most likely a photo
    unchanged = (
        data is not None
        and target == original_size
        and not rotated
        and original_format in ("PNG", "JPEG")
        and len(data) <= max_bytes
        and (original_format == "JPEG") == (fmt == "JPEG")
    )
    if unchanged:
        assert data is not None
        sent, fmt, sent_img = data, str(original_format), img
    else:
        sent_img = img if target == original_size else img.resize(target, Image.Resampling.LANCZOS)
        sent = _encode(sent_img, fmt)
        sent, fmt, sent_img = _fit_bytes(sent, fmt, sent_img, max_bytes, alpha, source)
    mime = f"image/{fmt.lower()}"
    return PreparedImage(
        source=source,
        url=f"data:{mime};base64,{base64.b64encode(sent).decode()}",
        mime=mime,
        original_size=original_size,
        sent_size=sent_img.size,
        original_bytes=original_bytes,
        sent_bytes=len(sent),
        thumbnail=_thumbnail(sent_img),
    )


def _fit_bytes(data: bytes, fmt: str, img: Any, max_bytes: int, alpha: bool, source: str) -> tuple[bytes, str, Any]:
    """Bring the encoding under ``max_bytes``: JPEG instead of PNG (when there is no alpha), lower quality, then
    smaller sizes down to a longest side of 256 px; past that the image is refused with the numbers."""
    if len(data) <= max_bytes:
        return data, fmt, img
    from PIL import Image

    current = img
    while True:
        if not alpha:
            for quality in (85, 70, 50):
                data, fmt = _encode(current, "JPEG", quality), "JPEG"
                if len(data) <= max_bytes:
                    return data, fmt, current
        else:
            data = _encode(current, "PNG", quality=50)
            if len(data) <= max_bytes:
                return data, "PNG", current
        longest = max(current.size)
        if longest <= _MIN_SIDE_ON_SHRINK:
            raise ConfigurationError(
                f"{source} is still {_human(len(data))} at {current.size[0]}×{current.size[1]} px, over the "
                f"{_human(max_bytes)} limit (max_image_bytes={max_bytes}); raise max_image_bytes or crop the image."
            )
        side = max(_MIN_SIDE_ON_SHRINK, int(longest * 0.75))
        current = img.resize(fit_size(img.size, side), Image.Resampling.LANCZOS)
