"""The ``jobcheck`` subcommands, one module each (see :mod:`jobcheck.conformance.cli`)."""
