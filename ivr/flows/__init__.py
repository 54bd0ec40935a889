"""The absence call as a pure state machine: (state, input, context) -> (state, speech, record)."""

from ivr.flows.call import (
    CallContext,
    CallState,
    FlowInput,
    KnownPupil,
    Report,
    Say,
    Step,
    Turn,
    UnknownPupil,
    expects,
    refuse,
    step,
    welcome,
)

__all__ = [
    "CallContext",
    "CallState",
    "FlowInput",
    "KnownPupil",
    "Report",
    "Say",
    "Step",
    "Turn",
    "UnknownPupil",
    "expects",
    "refuse",
    "step",
    "welcome",
]
