"""Broad English vocabulary from what a fresh clone can install offline.

Why: a model trained from scratch only knows the words its synthetic pages show it, and a
tokenizer trained only on those pages splits real words into ~3 pieces.  Real forms use
tens of thousands of words, so both draw on two installed sources:

- Debian's word lists (``wamerican``/``wbritish``: ``/usr/share/dict/words``), for breadth;
- the ``wordfreq`` package (word frequencies of a broad English corpus, shipped in its
  wheel), so that common words come up as often as they do in real text.

Either may be missing; :func:`common_words` then falls back to the built-in prose words,
so pages still render (with a narrower vocabulary).  Lists are sorted and filtered the
same way on every machine with the same packages, so a seed gives the same page.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from pathlib import Path

DICT_FILES = ("/usr/share/dict/american-english", "/usr/share/dict/british-english", "/usr/share/dict/words")
COMMON_SIZE = 30000  # most frequent English words kept from wordfreq


# Words a business form does not print (frequency lists and dictionaries hold them).
UNPRINTABLE = frozenset("""fuck fucking fucked fucker shit shitty bullshit bitch bitches ass asshole bastard damn
dick cock pussy cunt slut whore fag faggot nigger nigga retard retarded crap piss wank twat""".split())


def _plain(word: str) -> bool:
    """ASCII letters (and inner hyphens) only: what a printed English form says."""
    return (
        word.isascii()
        and word.replace("-", "").isalpha()
        and not word.startswith("-")
        and word.lower() not in UNPRINTABLE
    )


@functools.lru_cache(maxsize=1)
def dictionary_words() -> tuple[str, ...]:
    """Debian's word lists, without possessives and proper-noun duplicates; empty if not installed."""
    words: set[str] = set()
    for name in DICT_FILES:
        path = Path(name)
        if path.is_file():
            words.update(w.strip() for w in path.read_text(encoding="utf-8", errors="ignore").splitlines())
    return tuple(sorted(w for w in words if w and _plain(w) and len(w) > 1))


@functools.lru_cache(maxsize=1)
def common_words() -> tuple[tuple[str, ...], tuple[float, ...]]:
    """(words, cumulative weights) of frequent English words, for frequency-true sampling."""
    try:
        from wordfreq import top_n_list, word_frequency
    except ImportError:
        from layoutlmv3_triton.synth.wordlists import PROSE

        words = tuple(sorted(PROSE))
        return words, tuple(itertools.accumulate(1.0 for _ in words))
    words = tuple(w for w in top_n_list("en", COMMON_SIZE) if _plain(w))
    weights = [word_frequency(w, "en") for w in words]
    return words, tuple(itertools.accumulate(weights))


def common_word(r: random.Random) -> str:
    words, cum = common_words()
    return words[min(len(words) - 1, bisect.bisect_left(cum, r.random() * cum[-1]))]


def rare_word(r: random.Random) -> str:
    """A dictionary word (any frequency); a common word where no word list is installed."""
    words = dictionary_words()
    return r.choice(words) if words else common_word(r)


def english_corpus(scale: float = 1e6, cap: int = 500, line_words: int = 200) -> list[str]:
    """Lines of English for tokenizer training: frequent words repeated by frequency, every
    dictionary word twice, each in lower, Capitalised and UPPER case (forms print all three).
    """
    counts: dict[str, int] = {}
    try:
        from wordfreq import word_frequency
    except ImportError:  # pragma: no cover - wordfreq is a project dependency
        word_frequency = None
    if word_frequency is not None:
        for w in common_words()[0]:
            counts[w] = max(2, min(cap, round(word_frequency(w, "en") * scale)))
    for w in dictionary_words():
        counts.setdefault(w, 2)
    lines: list[str] = []
    line: list[str] = []
    for word, k in counts.items():
        for form in dict.fromkeys((word, word.capitalize(), word.upper())):
            line.extend([form] * k)
            if len(line) >= line_words:
                lines.append(" ".join(line))
                line = []
    numbers = [str(i) for i in range(1000)] + [str(y) for y in range(1900, 2030)] + [f"{i:02d}" for i in range(100)]
    lines.extend(" ".join(numbers) for _ in range(5))
    if line:
        lines.append(" ".join(line))
    return lines
