"""Targets: what the campaign drives — the simulator or a live QEMU, behind one interface."""
