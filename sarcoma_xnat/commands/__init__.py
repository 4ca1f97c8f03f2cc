"""Thin command-line modules: each parses its arguments and delegates to the package.

A module here exposes ``register(subparsers)``, which adds one or more subcommands
and sets ``_run`` (a function ``args -> int``) as each one's default. Keep heavy
imports inside the run functions so that ``sarcoma-xnat --help`` stays fast.
"""
