"""Repositories: the only code that runs SQL, all of it named in videoctl/db/sql/*.sql.

One module per table or outbox, each beside its SQL file of the same name: videos, jobs (with
the numbers of `stats`), chunks, usage, quality, delete_requests and events; ``_base`` holds what they share.
Import the repositories from here.

Every state change goes through :meth:`JobRepository._transition`, which
runs a guarded UPDATE and turns "zero rows" into a typed error that says
why: unknown job, wrong state, or a runner that no longer holds the claim.

The transitions the app hears of (video READY or FAILED, job FAILED, DEAD or
CANCELLED) record their event here, in the same transaction as the UPDATE
(:func:`record_event`): no caller can make one without the other.
"""

from videoctl.db.repositories.chunks import ChunkRepository
from videoctl.db.repositories.delete_requests import DeleteRequestRepository
from videoctl.db.repositories.events import EventRepository, record_event
from videoctl.db.repositories.jobs import JobRepository, StatsRepository
from videoctl.db.repositories.quality import QualityRepository
from videoctl.db.repositories.usage import UsageRepository
from videoctl.db.repositories.videos import VideoRepository

__all__ = ["ChunkRepository", "DeleteRequestRepository", "EventRepository", "JobRepository", "QualityRepository", "StatsRepository",
           "UsageRepository", "VideoRepository", "record_event"]
