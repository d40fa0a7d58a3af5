"""The ``hwloop`` command line: one module per command group."""
