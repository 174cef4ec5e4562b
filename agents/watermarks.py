"""Watermark reports: how far in event time ingest has read each input partition.

Sent on ``stockloop.material-events`` after the events they cover (one
producer, one partition: in order), so a material partition knows when every
input has passed a time and events up to it can be applied in order
(``models.watermark``). Reports go to every partition on a timer, and at once
when an input partition's last record has been processed: to every partition
sent an event since a report found all inputs read, when this one does, else to
the partition the last event went to (``ReportTargets``). Live, an event is
applied without waiting for the timer.
Input partitions far ahead of the slowest are not fetched until it catches up
(``streams.transport.hold_back``), so a backlog is read roughly in event-time
order.
"""

import logging
from datetime import datetime, timedelta

from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP, Message

from models.events import Watermark, encode
from models.watermark import InputProgress, ReportTargets, ahead, input_position
from streams.app import app, material_events_topic, settings
from streams.catalogue import INPUT_TOPICS
from streams.metrics import HELD_BACK_PARTITIONS
from streams.transport import hold_back

log = logging.getLogger(__name__)
progress = InputProgress()
targets = ReportTargets()
partitioner = DefaultPartitioner()
PARTITIONS = list(range(app.conf.topic_partitions))
_input_topics = {settings.topic(name) for name in INPUT_TOPICS}


def partition_of(material_id: str) -> int:
    """The partition of material-events a material's events go to (the producer's hash)."""
    return partitioner(material_id.encode(), PARTITIONS, PARTITIONS)


def _highwater(tp: TP) -> int | None:
    try:
        return app.consumer.highwater(tp)
    except (AssertionError, KeyError):  # revoked between assignment() and now
        return None


def _report() -> Watermark | None:
    """This worker's report on its input partitions, or None while it has none."""
    if app.rebalancing:
        return None
    inputs = [tp for tp in app.consumer.assignment() if tp.topic in _input_topics]
    if not inputs:
        return None
    highwaters = {input_position(tp.topic, tp.partition): _highwater(tp) for tp in inputs}
    # Faust's committed offsets: where reading resumes before any record is processed.
    committed = {
        input_position(tp.topic, tp.partition): app.consumer._committed_offset.get(tp)
        for tp in inputs
    }
    return progress.watermark(highwaters, committed)


def _hold_back(report: Watermark) -> None:
    """Fetch nothing from the input partitions far ahead in event time until the others catch up."""
    by_position = {input_position(tp.topic, tp.partition): tp for tp in app.consumer.assignment()}
    inputs = [position for position, tp in by_position.items() if tp.topic in _input_topics]
    lead = timedelta(seconds=settings.lateness_s)
    wanted = ahead(report, lead, progress.unstarted(report, inputs))
    held = frozenset(by_position[p] for p in wanted if p in by_position)
    hold_back(held)
    HELD_BACK_PARTITIONS.set(len(held))


def forwarded(partition: int) -> None:
    """An event went to ``partition`` of material-events."""
    targets.sent(partition)


async def processed(message: Message, event_time: datetime | None, sent_to: int | None) -> None:
    """Count one input record as processed; report at once if it was its partition's last.

    ``sent_to``: the partition its last event went to, if it had any. Never
    raises: the record already has its outcome, and a report that could not
    be sent now goes with the next timer.
    """
    progress.record(input_position(message.topic, message.partition), message.offset, event_time)
    highwater = _highwater(TP(message.topic, message.partition))
    if highwater is None or message.offset + 1 < highwater:
        return
    try:
        if report := _report():
            value = encode(report)
            for partition in targets.at_end_of_input(report, sent_to):
                await material_events_topic.send(key=b"watermark", value=value, partition=partition)
    except Exception:  # the timer reports again within watermark_interval_s
        log.exception("cannot send the watermark report after %s", message.tp)


@app.timer(interval=settings.watermark_interval_s)
async def report_watermarks() -> None:
    """Report to every material partition, so time moves on for quiet and idle inputs too."""
    report = _report()
    if report is None:
        return
    _hold_back(report)
    value = encode(report)
    for partition in PARTITIONS:
        await material_events_topic.send(key=b"watermark", value=value, partition=partition)
    targets.to_every_partition(report)
