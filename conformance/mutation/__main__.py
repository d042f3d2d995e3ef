"""``python -m jobcheck.conformance.mutation``: see :mod:`jobcheck.conformance.mutation.cli`."""

import sys

from jobcheck.conformance.mutation.cli import main

sys.exit(main())
