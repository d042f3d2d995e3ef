"""jobcheck's model of QEMU's job lifecycle: pure data and functions, no I/O."""
