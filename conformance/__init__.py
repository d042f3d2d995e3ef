"""jobcheck's conformance suite: traces, the oracle, targets, the campaign and reports."""
