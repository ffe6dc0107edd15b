"""Expected failures of ingestion: each names the field of the event at fault."""

from __future__ import annotations

from domain.kit.errors import DomainError, InvalidInput


class InvalidEnvelope(InvalidInput):
    """The request as a whole is unusable (malformed JSON, no ``events`` list): 400."""

    code = "invalid_envelope"


class InvalidEvent(DomainError):
    """One event cannot be accepted; the rest of its batch still can (a dead letter)."""

    code = "invalid_event"


class UnknownRep(InvalidEvent):
    code = "unknown_rep"


class TooManyEvents(InvalidEnvelope):
    """A request of more events than one request may carry: 413, nothing stored."""

    code = "too_many_events"
