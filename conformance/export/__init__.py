"""Stage: export — a recorded divergence as something a QEMU developer runs.

* :mod:`.plan` — what the reproducer sends and expects, taken from a live trace;
* :mod:`.script` — a standalone Python script that needs only qemu.qmp;
* :mod:`.iotest` — a qemu-iotests test and its reference output.
"""
