"""Labelled forms and how they are scored: FUNSD readers (``funsd``, ``funsd_layout``), the
word-matching rule OCR recall is judged by (``matching``), entity scores (``scoring``) and
question->answer pair scores (``pairs``).  The bottom layer that ``training`` and ``measure``
both read.

May import: ``contract``, ``errors``, ``serving`` (the linker the pair scores run).
"""
