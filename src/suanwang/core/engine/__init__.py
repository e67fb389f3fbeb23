"""The control plane's pure core: the task lifecycle as a transition table and an engine.

``Engine.handle(*events) -> instructions``; see :mod:`.engine` and :mod:`.states`.
"""

from suanwang.core.engine.engine import Engine, StoryLine, TaskRecord, dispatch_key, lease_id
from suanwang.core.engine.events import (
    CloseLease,
    Dispatch,
    Event,
    Instruction,
    MeterStart,
    OpenLease,
    Stop,
)
from suanwang.core.engine.states import TRANSITIONS, EventKind, LostReason, TaskState

__all__ = [
    "TRANSITIONS",
    "CloseLease",
    "Dispatch",
    "Engine",
    "Event",
    "EventKind",
    "Instruction",
    "LostReason",
    "MeterStart",
    "OpenLease",
    "Stop",
    "StoryLine",
    "TaskRecord",
    "TaskState",
    "dispatch_key",
    "lease_id",
]
