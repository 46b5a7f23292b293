"""The ``layoutlmv3-triton`` subcommands, one module each: argument parsing, progress and
exit codes around the package's functions.

May import: ``serving``, ``datasets``, ``synth``, ``training``, ``export``, ``repository``,
``local``, ``measure`` (not the images subpackage: its checks run as modules in the Dockerfiles).
"""
