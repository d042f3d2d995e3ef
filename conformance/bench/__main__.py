"""``python -m jobcheck.conformance.bench``: run the benchmark (see :mod:`.suite`)."""

import sys

from jobcheck.conformance.bench.suite import main

sys.exit(main())
