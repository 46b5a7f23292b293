"""Measurement: the benchmark (``measure.bench``), soak (``soak`` runs it, ``soak_report``
writes it), perf_analyzer input data, and evaluation of a served model (``evaluation``; its
pages come from ``evaluation_sources``, its text and file from ``evaluation_report``).

May import: ``contract``, ``errors``, ``serving``, ``datasets``, ``synth``, ``training``,
``repository``, ``local``.
"""
