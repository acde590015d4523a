"""Vision: ask vision models about images (``VisionAgent``), with images loaded, downscaled and encoded here.

Pillow is needed only when an image is actually loaded (``pip install "pillow>=10"``).
"""

from .agent import ImageQuestion, VisionAgent, VisionAgentConfig, VisionResult, vision_support
from .images import DEFAULT_MAX_BYTES, DEFAULT_MAX_SIDE, PreparedImage, fit_size, prepare_image

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SIDE",
    "ImageQuestion",
    "PreparedImage",
    "VisionAgent",
    "VisionAgentConfig",
    "VisionResult",
    "fit_size",
    "prepare_image",
    "vision_support",
]
