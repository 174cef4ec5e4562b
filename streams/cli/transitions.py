"""Records that move through a life cycle, one transition per record: read, folded, listed.

A purchase request, a transfer and a dead-stock review are each a sequence
of transitions on their topic; the transition with the highest sequence is
the record's state. The commands that read them (``stockloop requests``,
``stockloop transfers``, ``stockloop reviews``) share the fold, the reading
and the refusal of an unknown id here.
"""

import difflib
from collections.abc import Callable, Collection, Iterable
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from rich.console import Console

from models.events import describe_validation_error
from streams.cli.kafka import read
from streams.settings import Settings

err_console = Console(stderr=True)


class Transition(Protocol):
    """One transition of a record: its place in the record's sequence."""

    @property
    def sequence(self) -> int: ...


T = TypeVar("T", bound=Transition)
M = TypeVar("M", bound=BaseModel)


def latest_by(transitions: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    """Each record's state: its transition with the highest sequence, by ``key`` (its id).

    By sequence, not by arrival: a transition published twice (a worker
    restarted before committing) or read out of order changes nothing.

    >>> from types import SimpleNamespace as Step
    >>> steps = [Step(id="a", sequence=1), Step(id="a", sequence=0), Step(id="b", sequence=0)]
    >>> {k: v.sequence for k, v in latest_by(steps, lambda step: step.id).items()}
    {'a': 1, 'b': 0}
    """
    latest: dict[str, T] = {}
    for transition in transitions:
        known = latest.get(key(transition))
        if known is None or transition.sequence >= known.sequence:
            latest[key(transition)] = transition
    return latest


def history_of(transitions: Iterable[T], key: Callable[[T], str], record_id: str) -> list[T]:
    """Every transition of one record, by sequence; a transition published twice shows once."""
    by_sequence = {t.sequence: t for t in transitions if key(t) == record_id}
    return [by_sequence[sequence] for sequence in sorted(by_sequence)]


def read_transitions_of(settings: Settings, topic: str, model: type[M], what: str) -> list[M]:
    """Every ``model`` record on physical topic ``topic`` so far; ``what`` names them in warnings.

    A record that is not a ``model`` is skipped, and counted in one warning
    line with the first one's position and why: one bad record must not hide
    every other from the people who decide on them.
    """
    transitions: list[M] = []
    skipped: list[str] = []
    for record in read(settings, topic):
        if record.value is None:
            continue
        try:
            transitions.append(model.model_validate_json(record.value))
        except ValidationError as error:
            where = f"partition {record.partition} offset {record.offset}"
            skipped.append(f"{where}: {describe_validation_error(error)}")
    if skipped:
        err_console.print(
            f"[yellow]warning:[/yellow] skipped {len(skipped)} record(s) that are not {what}; "
            f"the first at {skipped[0]}",
            highlight=False,
            soft_wrap=True,
        )
    return transitions


def unknown_id(what: str, record_id: str, known: Collection[str], listing: str) -> str:
    """Why an id is refused: no ``what`` has it; the closest known id, if one is close, else
    the command (``listing``) that lists them.

    >>> unknown_id("transfer", "ab12", ["ab13"], "stockloop transfers list")
    "no transfer has id 'ab12'; did you mean 'ab13'?"
    """
    close = difflib.get_close_matches(record_id, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (see `{listing}`)"
    return f"no {what} has id {record_id!r}{hint}"
