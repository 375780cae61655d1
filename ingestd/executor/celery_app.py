"""The Celery app of INGESTD_EXECUTOR=celery: its configuration, and the one task it runs.

Configured for exactly-once over at-least-once delivery (docs/deployment.md):

* ``task_acks_late``: a task is acknowledged after its unit has ended, so a worker that dies
  mid-unit leaves the message to be delivered again; ``worker_prefetch_multiplier = 1``: a
  worker holds no more messages than it runs, so a slow unit does not strand others behind it.
* A redelivered task runs nothing twice: the worker claims the unit row with a conditional
  update and a lease (``Runs.claim_if_due``), and the data plane's ledger makes a load that
  committed but was not yet recorded come out as already loaded.
* The Redis ``visibility_timeout`` only delays a redelivery; recovery does not wait for it,
  since the dispatcher sends a unit again as soon as its lease has run out.

``celery -A ingestd.executor.celery_app inspect active`` (or ``ping``, ``stats``) reaches the
workers with the process's INGESTD_ settings: the module's ``app`` is built on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery

from ingestd.domain.unit_tasks import TASK_NAME, UnitTask
from ingestd.errors import DeploymentInvalid
from ingestd.settings import Settings


def make_celery(settings: Settings) -> Celery:
    if settings.broker_url is None:
        raise DeploymentInvalid(
            "INGESTD_EXECUTOR=celery needs a broker",
            hint="set INGESTD_BROKER_URL, e.g. redis://127.0.0.1:6379/0 or "
            "amqp://guest:guest@127.0.0.1:5672//",
        )
    app = Celery("ingestd", broker=settings.broker_url.get_secret_value(), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=settings.broker_queue,
        task_queues=None,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # ingestd's own log setup (INGESTD_LOG_FORMAT) stays in charge of the root logger.
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_pool="threads",
        worker_concurrency=settings.workers,
        worker_send_task_events=False,
        # A unit's outcome is in the metadata database; nothing waits on a result.
        result_backend=None,
    )
    return app


def register(app: Celery, execute: Callable[[UnitTask], None]) -> None:
    """Register the unit task on a worker's app; ``execute`` runs one unit to its end."""

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_unit(payload: object) -> None:
        execute(UnitTask.from_json(payload))


def sender(app: Celery) -> Callable[[UnitTask], None]:
    """What the dispatcher calls to send one unit's task."""

    def send(task: UnitTask) -> None:
        app.send_task(
            TASK_NAME,
            args=[task.to_json()],
            queue=app.conf.task_default_queue,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )

    return send


def __getattr__(name: str) -> Any:
    # `celery -A ingestd.executor.celery_app ...` looks up `app` here.
    if name == "app":
        return make_celery(Settings())
    raise AttributeError(name)
