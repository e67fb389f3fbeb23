"""The control plane's shell: store, runtime loop, execution backends, metrics and logs.

The decisions live in the pure :mod:`suanwang.core.engine`; this package does the I/O.
"""
