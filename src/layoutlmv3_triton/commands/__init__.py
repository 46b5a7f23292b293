"""The ``layoutlmv3-triton`` subcommands, one module each: argument parsing, progress and
exit codes around the package's functions.

May import: every subpackage.
"""
