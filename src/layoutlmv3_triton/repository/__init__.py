"""The Triton model repository: every ``config.pbtxt`` rendered from ``contract``
(``configs``), the python-backend settings (``python_backend``), and the writer that exports,
checks and lays out a repository (``writer``).

May import: ``contract``, ``errors``, ``serving``, ``export``.
"""
