"""Stage: reports — rendering a finished run, and the baseline of accepted divergences.

* :mod:`.document` — the run as one JSON document (the source of truth, described by
  ``schema.json``);
* :mod:`.write` — the outcome of a run: summary lines, exit code, the files;
* :mod:`.markdown`, :mod:`.html`, :mod:`.junit` — one renderer per format, sharing
  :mod:`.views` (the headline and the coverage overlay);
* :mod:`.baseline` — the version-keyed file of accepted divergences;
* :mod:`.diagram_files` — the model's diagrams written as files;
* :mod:`.compare_pages`, :mod:`.compare_diagram` — a comparison of two builds
  (:mod:`jobcheck.conformance.campaign.compare`) as text, Markdown, HTML and a diff diagram;
* :mod:`.merge`, :mod:`.merge_pages` — several runs' documents as one (a CI matrix).

A new report format is a renderer here: it reads the document, it computes nothing.
"""
