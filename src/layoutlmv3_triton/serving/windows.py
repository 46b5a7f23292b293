"""Pages longer than one sequence: overlapping word-aligned windows, merged per word.

A page whose words need more than ``max_tokens`` sub-tokens is cut into windows of
whole words that each fit, consecutive windows sharing about ``stride`` tokens.  Every
window carries the same page image.  After the model, a word's class probabilities
are averaged over the windows that saw its first sub-token, so no word is dropped and
words near a cut get context from both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Tokens consecutive windows share.  64, not 128: on FUNSD forms split into windows of 256 and 192
# tokens, entity F1 and agreement with the whole-page labels were no lower than with 128, and each
# further window costs 64 tokens less (docs/performance.md).
DEFAULT_STRIDE = 64


@dataclass(frozen=True)
class Window:
    start: int  # first word index
    end: int  # one past the last word index


def plan_windows(
    tokens_per_word: Sequence[int], max_tokens: int, stride: int = DEFAULT_STRIDE, max_windows: int | None = None
) -> list[Window]:
    """Word-aligned windows of at most ``max_tokens`` sub-tokens (a word longer than
    that gets a window of its own and is truncated by the tokenizer)."""
    if stride >= max_tokens:
        raise ValueError(f"stride ({stride}) must be smaller than the window ({max_tokens} tokens)")
    n = len(tokens_per_word)
    if n == 0:
        return [Window(0, 0)]
    windows: list[Window] = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and (end == start or used + tokens_per_word[end] <= max_tokens):
            used += tokens_per_word[end]
            end += 1
        windows.append(Window(start, end))
        if end >= n or (max_windows is not None and len(windows) >= max_windows):
            return windows
        # step back over whole words until about `stride` tokens are shared
        next_start, shared = end, 0
        while next_start - 1 > start and shared + tokens_per_word[next_start - 1] <= stride:
            next_start -= 1
            shared += tokens_per_word[next_start]
        start = next_start


def merge_word_probabilities(
    window_probs: Sequence[np.ndarray], window_word_ids: Sequence[np.ndarray], n_words: int
) -> tuple[np.ndarray, np.ndarray]:
    """Average each word's first-sub-token probabilities over the windows that saw it.

    ``window_word_ids`` hold page-level word indices (-1 for special/padding tokens).
    Returns (label ids, scores); a word no window saw gets -1 and NaN.
    """
    n_labels = window_probs[0].shape[-1] if len(window_probs) else 0
    total = np.zeros((n_words, n_labels), dtype=np.float64)
    count = np.zeros(n_words, dtype=np.int64)
    for probs, word_ids in zip(window_probs, window_word_ids):
        word_ids = np.asarray(word_ids).reshape(-1)[: probs.shape[0]]
        seen = set()
        for token, word in enumerate(word_ids):
            if 0 <= word < n_words and word not in seen:
                seen.add(word)
                total[word] += probs[token]
                count[word] += 1
    labels = np.full(n_words, -1, dtype=np.int64)
    scores = np.full(n_words, np.nan, dtype=np.float32)
    hit = count > 0
    if hit.any():
        mean = total[hit] / count[hit, None]
        labels[hit] = mean.argmax(axis=1)
        scores[hit] = mean.max(axis=1)
    return labels, scores
