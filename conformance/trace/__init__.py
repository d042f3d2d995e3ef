"""Stage: traces — everything QEMU says, live or recorded, as one stream of records.

* :mod:`.records` — the record types and jobcheck's own JSON-lines format;
* :mod:`.readers` — one lazy stream of records from a file of any supported format,
  built on :mod:`.qmp_transcript` (raw QMP logs, documentation transcripts),
  :mod:`.iotests_log` (qemu-iotests ``.out`` files), :mod:`.qmp_messages` (the
  wire-message shape checks) and :mod:`.lenient_json` (QMP-like text to JSON);
* :mod:`.job_commands` — what a QMP command means for the jobs it touches;
* :mod:`.synthetic` — large, model-legal synthetic traces for benchmarks.

A new trace format is a reader here.
"""
