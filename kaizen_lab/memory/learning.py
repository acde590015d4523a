"""Learning from what a memory holds: frequent questions, user preferences, and corrections of past mistakes.

All three read and write ordinary entries of a MemoryStore, so they persist with it and show up in the
explorer; an agent whose memory is that store recalls corrections into its prompt when a similar context recurs.
"""

from __future__ import annotations

import html
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError
from .entry import MemoryEntry, MemoryMatch, embedding_text, values_text
from .store import MemoryStore

__all__ = ["ErrorCorrection", "Pattern", "PatternRecognition", "Preference", "PreferenceLearning"]

_DAY = 86400.0


# ------------------------------------------------------------------------------------------------ frequent patterns
@dataclass(frozen=True)
class Pattern:
    """A group of entries that ask the same thing in different words."""

    representative: str  # the member closest to the group's centre
    count: int
    examples: list[str]  # distinct phrasings, most central first
    entry_ids: list[str]
    first_seen: float
    last_seen: float
    cohesion: float  # mean similarity of members to the centre (1.0 = identical meaning)
    answer: str | None = None  # for conversation turns: the latest answer given

    def _repr_html_(self) -> str:
        shown = "".join(f"<li>{html.escape(e)}</li>" for e in self.examples[:5])
        return (
            f"<b>{html.escape(self.representative)}</b> × {self.count} (cohesion {self.cohesion:.2f})<ul>{shown}</ul>"
        )


class PatternRecognition:
    """Finds frequently asked questions by clustering their meaning (embeddings), not their exact wording."""

    def __init__(self, memory: MemoryStore) -> None:
        self.memory = memory

    def detect_frequent_patterns(
        self,
        min_occurrences: int = 3,
        time_window_days: float | None = 30,
        *,
        similarity_threshold: float = 0.5,
        kind: str | None = "turn",
        limit: int = 5000,
    ) -> list[Pattern]:
        """Groups of at least ``min_occurrences`` entries (conversation turns by default) from the last
        ``time_window_days`` whose questions are within ``similarity_threshold`` of their group's centre, most
        frequent first."""
        if min_occurrences < 1:
            raise ConfigurationError("min_occurrences must be at least 1")
        since = None if time_window_days is None else time.time() - time_window_days * _DAY
        entries = self.memory.entries(kind=kind, since=since, limit=limit)
        texts = [_question(e) for e in entries]
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if len(keep) < min_occurrences:
            return []
        entries, texts = [entries[i] for i in keep], [texts[i] for i in keep]
        import numpy as np

        vectors = np.asarray(self.memory.embedder.embed(texts), dtype=np.float32)
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)  # remote models' aren't unit
        groups = _cluster(vectors, similarity_threshold)
        patterns = [_pattern(g, entries, texts, vectors) for g in groups if len(g) >= min_occurrences]
        return sorted(patterns, key=lambda p: (-p.count, -p.last_seen))


def _question(entry: MemoryEntry) -> str:
    return embedding_text(entry.content)


def _cluster(vectors: Any, threshold: float, rounds: int = 3) -> list[list[int]]:
    """Leaders in order of density (the question with most paraphrases around it leads first), each item joining
    the most similar leader within ``threshold``; then a few centroid reassignment rounds. Unlike connected
    components, A~B~C never chains into one group when A and C mean different things."""
    import numpy as np

    n = len(vectors)
    degree = np.zeros(n, dtype=np.int64)
    for start in range(0, n, 1024):  # bounded memory for thousands of entries
        degree[start : start + 1024] = (vectors[start : start + 1024] @ vectors.T >= threshold).sum(axis=1)
    leaders: list[int] = []
    assignment = np.full(n, -1)
    for i in np.argsort(-degree, kind="stable"):
        if leaders:
            scores = vectors[leaders] @ vectors[i]
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                assignment[i] = best
                continue
        leaders.append(int(i))
        assignment[i] = len(leaders) - 1
    for _ in range(rounds):
        centres = np.asarray([_unit(vectors[assignment == k].mean(axis=0)) for k in range(len(leaders))])
        scores = vectors @ centres.T
        best = scores.argmax(axis=1)
        new = np.where(scores[np.arange(n), best] >= threshold, best, assignment)
        if (new == assignment).all():
            break
        occupied = sorted(set(new.tolist()))
        remap = {old: k for k, old in enumerate(occupied)}
        assignment = np.asarray([remap[a] for a in new])
        leaders = leaders[: len(occupied)]
    return [np.flatnonzero(assignment == k).tolist() for k in sorted(set(assignment.tolist()))]


def _unit(v: Any) -> Any:
    import numpy as np

    return v / max(float(np.linalg.norm(v)), 1e-12)


def _pattern(group: list[int], entries: list[MemoryEntry], texts: list[str], vectors: Any) -> Pattern:
    import numpy as np

    centre = _unit(vectors[group].mean(axis=0))
    closeness = vectors[group] @ centre
    order = [group[i] for i in np.argsort(-closeness, kind="stable")]
    examples = list(dict.fromkeys(texts[i] for i in order))
    members = [entries[i] for i in group]
    latest = max(members, key=lambda e: e.created_at)
    answer = None
    if latest.kind == "turn" and isinstance(latest.content, dict):
        answer = values_text(latest.content.get("outputs", "")) or None
    return Pattern(
        representative=texts[order[0]],
        count=len(group),
        examples=examples,
        entry_ids=[entries[i].id for i in order],
        first_seen=min(e.created_at for e in members),
        last_seen=latest.created_at,
        cohesion=round(float(closeness.mean()), 4),
        answer=answer,
    )


# ------------------------------------------------------------------------------------------------------ preferences
@dataclass(frozen=True)
class Preference:
    """``key`` = ``value`` for a user, with how sure we are (0–1) and the entries that say so."""

    key: str
    value: str
    confidence: float
    support: int
    evidence: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.key}: {self.value} (confidence {self.confidence:.2f}, {self.support} signals)"


class PreferenceLearning:
    """Learns what a user prefers from explicit statements and from feedback on answers with known attributes.

    Evidence for ``key = value``: each explicit statement counts 2 for it (and 2 against every other value of
    the key), each rated interaction counts its rating (-1…1). Confidence is ``(for - against) / (for + against
    + 1)``: one thumbs-up is not yet a preference (0.5), consistent signals approach 1, and contradicting ones
    cancel out.
    """

    def __init__(self, memory: MemoryStore, *, explicit_weight: float = 2.0) -> None:
        self.memory = memory
        self.explicit_weight = explicit_weight

    def record_preference(self, user_id: str, key: str, value: str, *, session_id: str | None = None) -> MemoryEntry:
        """The user said so ("answer in French", "keep it short")."""
        return self.memory.add(
            {"preference": key, "value": value},
            kind="preference",
            user_id=user_id,
            session_id=session_id,
            importance=0.8,
        )

    def record_feedback(
        self,
        user_id: str,
        attributes: Mapping[str, str],
        rating: float,
        *,
        session_id: str | None = None,
        note: str | None = None,
    ) -> MemoryEntry:
        """The user rated an answer (``rating`` from -1 to 1) whose style is described by ``attributes``,
        e.g. ``{"length": "short", "format": "table"}``."""
        if not isinstance(rating, int | float) or not -1.0 <= float(rating) <= 1.0:
            raise ConfigurationError(f"rating must be between -1 and 1, got {rating!r}")
        if not attributes:
            raise ConfigurationError("record_feedback needs the attributes of the rated answer")
        content: dict[str, Any] = {"attributes": {str(k): str(v) for k, v in attributes.items()}, "rating": rating}
        if note:
            content["note"] = note
        return self.memory.add(content, kind="interaction", user_id=user_id, session_id=session_id, importance=0.4)

    def learn_preferences(
        self, user_id: str, min_confidence: float = 0.6, *, time_window_days: float | None = None
    ) -> list[Preference]:
        """The best-supported value of each key whose confidence reaches ``min_confidence``, surest first."""
        since = None if time_window_days is None else time.time() - time_window_days * _DAY
        score: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        evidence: dict[tuple[str, str], list[str]] = defaultdict(list)
        stated: dict[str, list[str]] = defaultdict(list)  # every statement, repeats included
        for e in self.memory.entries(user_id=user_id, since=since, kind="preference"):
            if not isinstance(e.content, dict) or "preference" not in e.content or "value" not in e.content:
                continue  # an entry of this kind written by hand, not by record_preference
            pair = (str(e.content["preference"]), str(e.content["value"]))
            score[pair][0] += self.explicit_weight
            evidence[pair].append(e.id)
            stated[pair[0]].append(pair[1])
        for e in self.memory.entries(user_id=user_id, since=since, kind="interaction"):
            if not isinstance(e.content, dict) or not isinstance(e.content.get("attributes"), dict):
                continue
            rating = float(e.content.get("rating", 0) or 0)
            if rating == 0:
                continue  # a neutral rating says nothing either way
            for key, value in e.content["attributes"].items():
                pair = (str(key), str(value))
                score[pair][0 if rating > 0 else 1] += abs(rating)
                evidence[pair].append(e.id)
        for (key, value), pro_con in score.items():  # each statement of another value speaks against this one
            pro_con[1] += sum(self.explicit_weight for v in stated.get(key, ()) if v != value)
        best: dict[str, Preference] = {}
        for (key, value), (pro, con) in score.items():
            confidence = round(max(0.0, (pro - con) / (pro + con + 1.0)), 4)
            if confidence >= min_confidence and (key not in best or confidence > best[key].confidence):
                best[key] = Preference(key, value, confidence, len(evidence[(key, value)]), evidence[(key, value)])
        return sorted(best.values(), key=lambda p: -p.confidence)

    def guidelines(self, user_id: str, min_confidence: float = 0.6) -> list[str]:
        """The learned preferences as prompt guidelines: ``agent.guidelines += learner.guidelines("alice")``."""
        return [f"The user prefers {p.key}: {p.value}." for p in self.learn_preferences(user_id, min_confidence)]


# ------------------------------------------------------------------------------------------------------ corrections
class ErrorCorrection:
    """Remembers mistakes and their corrections, and finds them again when a similar situation comes up.

    An agent whose ``memory`` is the same store gets matching corrections in its prompt automatically (as
    "lessons from a past mistake"); :meth:`find_corrections` looks them up directly.
    """

    def __init__(self, memory: MemoryStore, *, min_similarity: float = 0.6) -> None:
        self.memory = memory
        self.min_similarity = min_similarity

    def record_error(
        self,
        context: str | Mapping[str, Any],
        error: str,
        correction: str,
        *,
        agent_id: str | None = None,
        importance: float = 0.9,
    ) -> MemoryEntry:
        """``context``: the situation (e.g. the inputs); ``error``: what went wrong; ``correction``: what is right."""
        if not str(error).strip() or not str(correction).strip():
            raise ConfigurationError("record_error needs both the error and its correction")
        body = context if isinstance(context, str) else dict(context)
        return self.memory.add(  # found by its situation: embedding_text() embeds the context alone
            {"context": body, "error": error, "correction": correction},
            kind="correction",
            agent_id=agent_id,
            importance=importance,
        )

    def find_corrections(
        self, context: str | Mapping[str, Any], *, limit: int = 3, min_similarity: float | None = None
    ) -> list[MemoryMatch]:
        query = context if isinstance(context, str) else values_text(dict(context))
        threshold = self.min_similarity if min_similarity is None else min_similarity
        return self.memory.search_similar(query, limit=limit, min_similarity=threshold, kind="correction")

    def lessons(self, context: str | Mapping[str, Any], **kwargs: Any) -> list[str]:
        """The matching corrections as guidelines for a prompt."""
        return [
            f"Avoid a past mistake: {m.entry.content['error']}; instead: {m.entry.content['correction']}"
            for m in self.find_corrections(context, **kwargs)
        ]
