"""The inboxes table: one record per subject, read once per rebalance, written once per commit.

An inbox holds every subject its recipient has been told of, so a person
who receives the alerts of thousands of materials has an inbox of
thousands of subjects, and every record routed to them touches it. Kept as
one table value, it was parsed and serialised whole for every record (three
quarters of the worker's CPU in a 2,000-material ``make bench`` drain), and
it grew past the largest record Kafka takes: the worker crashed on a 1 MB
inbox.

So the table holds a recipient's header (its groups and digest day) under
the recipient's name and each subject under ``recipient<US>subject_id``.
The worker reads its partitions' inboxes once after each rebalance and
keeps them; the notifier is their only writer. A changed inbox is written
when the next offset commit starts (``streams.commit_flush``), as Kafka
Streams' record cache does: only the subjects that changed, once per
commit, not once per record.
Every commit flushes first, and the offsets it commits are those of records
processed before the flush, so a committed record's effect is always in the
table and its changelog; a record processed after it is read again after a
crash or a rebalance, and an inbox takes a record twice without a change
(``models.notifying``).
"""

from collections.abc import MutableMapping

from faust.types import EventT

from models.notifying import Inbox, Subject
from streams.commit_flush import as_part_of

SEPARATOR = "\x1f"


def subject_key(recipient: str, subject_id: str) -> str:
    """The table key of one subject of a recipient's inbox."""
    return f"{recipient}{SEPARATOR}{subject_id}"


class Inboxes:
    """Inboxes by recipient, as the notifier sees them: written or about to be.

    The notifier's functions (``models.notifying``) never change an inbox or
    a subject in place: a subject they did not change is the very object
    they were given, so a flush writes only the subjects that are new
    objects, and an inbox returned unchanged is not written at all.
    """

    def __init__(self, table: MutableMapping[str, bytes]) -> None:
        self._table = table
        self._written: dict[str, Inbox] | None = None
        self._whole: set[str] = set()
        self._changed: dict[str, tuple[Inbox, EventT]] = {}

    def get(self, recipient: str) -> Inbox:
        """The inbox of ``recipient``: changed since the last flush, written, or empty."""
        if (changed := self._changed.get(recipient)) is not None:
            return changed[0]
        return self._read().get(recipient) or Inbox(recipient=recipient)

    def recipients(self) -> set[str]:
        """Every recipient with an inbox in this worker's partitions."""
        return {*self._read(), *self._changed}

    def store(self, inbox: Inbox, cause: EventT) -> None:
        """Keep ``inbox`` for the next flush, which writes it as part of the record ``cause``."""
        if self.get(inbox.recipient) is not inbox:
            self._changed[inbox.recipient] = (inbox, cause)

    def flush(self) -> None:
        """Write what changed in every inbox changed since the last flush.

        Called as a commit starts, outside any agent: each write is made as
        part of the record that changed the inbox last, which names the
        changelog partition.
        """
        while self._changed:
            recipient, (inbox, cause) = next(iter(self._changed.items()))
            with as_part_of(cause):
                for key, value in self._writes(inbox):
                    if value is None:
                        del self._table[key]
                    else:
                        self._table[key] = value
            del self._changed[recipient]
            self._read()[recipient] = inbox
            self._whole.discard(recipient)

    def invalidate(self) -> None:
        """After a rebalance: read the table again, forget what is not written.

        The records that made those changes are read again from the
        committed offsets, here or on the partition's new owner.
        """
        self._written = None
        self._whole.clear()
        self._changed.clear()

    def _writes(self, inbox: Inbox) -> list[tuple[str, bytes | None]]:
        """The table writes that take the written inbox to ``inbox`` (None deletes)."""
        recipient = inbox.recipient
        before = self._read().get(recipient)
        if recipient in self._whole:
            before = None
        writes: list[tuple[str, bytes | None]] = []
        if before is None or (inbox.groups, inbox.digest_day) != (before.groups, before.digest_day):
            writes.append((recipient, inbox.model_dump_json(exclude={"subjects"}).encode()))
        written = before.subjects if before is not None else {}
        changed = [
            subject_id
            for subject_id, subject in inbox.subjects.items()
            if written.get(subject_id) is not subject
        ]
        gone = [subject_id for subject_id in written if subject_id not in inbox.subjects]
        # In id order: the subjects come in their map's hash order, the changelog does not.
        for subject_id in sorted(changed + gone):
            subject = inbox.subjects.get(subject_id)
            stored = subject.model_dump_json().encode() if subject is not None else None
            writes.append((subject_key(recipient, subject_id), stored))
        return writes

    def _read(self) -> dict[str, Inbox]:
        """The written inboxes of this worker's partitions, read from the table once."""
        if self._written is None:
            headers: dict[str, bytes] = {}
            subjects: dict[str, dict[str, Subject]] = {}
            for raw_key, value in self._table.items():
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                recipient, _, subject_id = key.partition(SEPARATOR)
                if subject_id:
                    subject = Subject.model_validate_json(value)
                    subjects.setdefault(recipient, {})[subject_id] = subject
                else:
                    headers[recipient] = value
            self._written = {}
            for recipient in headers.keys() | subjects.keys():
                header = headers.get(recipient)
                inbox = Inbox.model_validate_json(header) if header else Inbox(recipient=recipient)
                if inbox.subjects:
                    # Written whole, as before subjects had keys of their own: rewrite it so.
                    self._whole.add(recipient)
                own = subjects.get(recipient, {})
                update = {"subjects": inbox.subjects.update(own)}
                self._written[recipient] = inbox.model_copy(update=update)
        return self._written
