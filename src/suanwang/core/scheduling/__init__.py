"""Converged scheduling (融合编排调度): joint compute + network + energy placement, explained.

Pure: every decision is a function of a :class:`~suanwang.core.scheduling.snapshot.Snapshot`
and the request; ties are broken by a seed derived from the request.
"""
