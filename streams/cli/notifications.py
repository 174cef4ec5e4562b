"""``stockloop notifications``: who was told what, and how it was delivered.

Reads ``stockloop.notifications`` (what the router formed for each person)
and ``stockloop.deliveries`` (each attempt of ``stockloop deliver``) to their
end, and lists each notification once: a notification the router published
twice after a restart carries the same id.
"""

from collections.abc import Iterable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.notifications import Delivery, DeliveryStatus, Notification, Urgency
from streams.catalogue import DELIVERIES, NOTIFICATIONS
from streams.cli.kafka import read
from streams.settings import Settings

console = Console()

COLUMNS = ("at", "recipient", "urgency", "severity", "title", "items", "delivery")


def unique(notifications: Iterable[Notification]) -> list[Notification]:
    """Each notification once, by id, in the order of their event times."""
    by_id = {n.id: n for n in notifications}
    return sorted(by_id.values(), key=lambda n: (n.at, n.recipient, n.id))


def delivery_state(notification: Notification, deliveries: Iterable[Delivery]) -> str:
    """Where its destinations stand: the last attempt's status per channel, or not sent yet."""
    last: dict[tuple[str, str], Delivery] = {}
    for delivery in deliveries:
        key = (delivery.channel, delivery.address)
        if key not in last or delivery.attempt >= last[key].attempt:
            last[key] = delivery
    if not last:
        return "not sent yet"
    return ", ".join(
        f"{channel} {'ok' if d.status is DeliveryStatus.DELIVERED else d.status.value}"
        for (channel, _), d in sorted(last.items())
    )


def notifications(
    recipient: Annotated[
        str | None, typer.Option(help="Only this person's notifications.", show_default=False)
    ] = None,
    urgency: Annotated[
        list[Urgency] | None,
        typer.Option(help="Only these urgencies (repeatable).", show_default=False),
    ] = None,
    last: Annotated[
        int | None,
        typer.Option(min=1, help="Only the newest N of those.", show_default=False),
    ] = None,
) -> None:
    """List the notifications people were sent, oldest first, with their delivery.

    Immediate messages, reminders and escalations interrupt; a digest collects
    the rest once a day. Delivery is what `stockloop deliver` recorded.
    """
    settings = Settings()
    told = unique(
        Notification.model_validate_json(r.value)
        for r in read(settings, settings.topic(NOTIFICATIONS))
    )
    attempts: dict[str, list[Delivery]] = {}
    for record in read(settings, settings.topic(DELIVERIES)):
        delivery = Delivery.model_validate_json(record.value)
        attempts.setdefault(delivery.notification_id, []).append(delivery)
    shown = [
        n
        for n in told
        if (recipient is None or n.recipient == recipient) and (not urgency or n.urgency in urgency)
    ]
    title = f"{len(shown)} notification(s)"
    if last is not None and last < len(shown):
        shown, title = shown[-last:], f"the newest {last} of {title}"
    table = Table(*COLUMNS, title=title)
    for n in shown:
        table.add_row(
            n.at.strftime("%Y-%m-%d %H:%M"),
            n.recipient,
            n.urgency.value,
            n.severity,
            n.title,
            str(len(n.items) + n.unlisted),
            delivery_state(n, attempts.get(n.id, ())),
        )
    console.print(table)
