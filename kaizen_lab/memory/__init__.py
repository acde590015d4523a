"""Agent memory."""

from .buffer import BufferMemory, Turn

__all__ = ["BufferMemory", "Turn"]
