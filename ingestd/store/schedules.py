"""SQL of what the scheduler runs: each dataset's hour (PST) per project, the datasets that
have sources to run, and the sources that keep an hour of their own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ingestd.store.database import Store
from ingestd.store.schema import DatasetSchedule, Source, utcnow


@dataclass(frozen=True)
class ScheduledSource:
    """An enabled source with an hour of its own."""

    id: int
    project_id: int
    name: str
    schedule_hour_pst: int
    dataset: str | None
    api_triggered: bool


class SqlSchedules:
    def __init__(self, store: Store) -> None:
        self.store = store

    def dataset_hour(self, project_id: int, dataset: str) -> int | None:
        """The hour set for the project's dataset; None if none was."""
        with self.store.read() as session:
            return session.scalar(
                select(DatasetSchedule.hour_pst).where(
                    DatasetSchedule.project_id == project_id, DatasetSchedule.dataset == dataset
                )
            )

    def set_dataset_hour(self, project_id: int, dataset: str, hour: int) -> None:
        with self.store.write() as session:
            row = session.scalar(
                select(DatasetSchedule).where(
                    DatasetSchedule.project_id == project_id, DatasetSchedule.dataset == dataset
                )
            )
            if row is None:
                session.add(DatasetSchedule(project_id=project_id, dataset=dataset, hour_pst=hour))
            else:
                row.hour_pst = hour
                row.updated_at = utcnow()

    def dataset_hours(self) -> dict[tuple[int, str], int]:
        """Every hour set, by project and dataset."""
        with self.store.read() as session:
            return {
                (row.project_id, row.dataset): row.hour_pst
                for row in session.scalars(select(DatasetSchedule))
            }

    def datasets_with_sources(self) -> set[tuple[int, str]]:
        """(project, dataset) of every enabled source of a dataset."""
        with self.store.read() as session:
            rows = session.execute(
                select(Source.project_id, Source.dataset).where(
                    Source.dataset.is_not(None), Source.enabled.is_(True)
                )
            ).all()
        return {(project_id, str(dataset)) for project_id, dataset in rows}

    def sources_with_hours(self, project_id: int | None = None) -> list[ScheduledSource]:
        """Enabled sources with an hour of their own (of one project, or of all)."""
        with self.store.read() as session:
            query = select(Source).where(
                Source.schedule_hour_pst.is_not(None), Source.enabled.is_(True)
            )
            if project_id is not None:
                query = query.where(Source.project_id == project_id)
            return [
                ScheduledSource(
                    id=s.id,
                    project_id=s.project_id,
                    name=s.name,
                    schedule_hour_pst=s.schedule_hour_pst,
                    dataset=s.dataset,
                    api_triggered=s.api_triggered,
                )
                for s in session.scalars(query)
                if s.schedule_hour_pst is not None
            ]
