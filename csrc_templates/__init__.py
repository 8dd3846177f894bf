"""Kernel template files (``*.c``, ``*.h``, ``*.cu``), installed as ``symgrad.csrc_templates``.

A regular package so that ``importlib.resources.files("symgrad.csrc_templates")`` finds the
folder in both wheel and editable installs; see README.md here for what it holds.
"""
