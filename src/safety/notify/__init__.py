"""Notifications: alerts by e-mail and webhook to the people subscribed to them, each told
only what their role may see (:mod:`.messages`), through an outbox that loses nothing and
sends nothing twice (:mod:`.outbox`), over SMTP with TLS or signed webhooks (:mod:`.channels`).
Subscriptions live in the access configuration (``safety.access.subscriptions``)."""

from safety.notify.outbox import SendReport, outbox, queue_notifications, send_due

__all__ = ["SendReport", "outbox", "queue_notifications", "send_due"]
