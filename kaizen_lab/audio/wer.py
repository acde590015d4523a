"""Word error rate: how far a transcript is from a reference, in words (the standard measure of speech recognition)."""

from __future__ import annotations

import re

__all__ = ["normalize_words", "word_error_rate"]


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation, so "Dog." and "dog" count as the same word."""
    return re.findall(r"[\w']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words in ``reference``, by Levenshtein distance over words.

    0.0 is a perfect transcript; it can exceed 1.0 when the hypothesis adds many words. An empty reference gives 0.0
    for an empty hypothesis and 1.0 otherwise.
    """
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i]
        for j, other in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1] / len(ref)
