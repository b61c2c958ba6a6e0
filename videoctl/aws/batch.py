"""The AWS Batch calls videoctl makes for jobs: submit, find, describe, terminate.

SubmitJob has no idempotency token, so it gets its own client with botocore
retries off: botocore's standard mode would otherwise resend a SubmitJob
whose reply was lost and create a second Batch job. videoctl's submit path
retries the whole operation instead, looking the job up by name first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

from videoctl.aws.clients import AwsClients

DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 ids


class BatchJobs:
    def __init__(self, clients: AwsClients, *, queue: str, job_definition: str) -> None:
        self.clients = clients
        self.queue = queue
        self.job_definition = job_definition

    @cached_property
    def _submit_client(self) -> Any:
        return self.clients.client("batch", retries={"mode": "standard", "total_max_attempts": 1})

    def submit(self, name: str, *, parameters: dict[str, str], tags: dict[str, str],
               priority: int | None = None, array_size: int | None = None,
               container_overrides: dict[str, Any] | None = None) -> str:
        """SubmitJob; ``array_size`` makes it an array job of that many children (the chunks of
        a long video), ``container_overrides`` sizes the container or adds variables to it (its
        command stays)."""
        request: dict[str, Any] = {
            "jobName": name,
            "jobQueue": self.queue,
            "jobDefinition": self.job_definition,
            "parameters": parameters,
            "tags": tags,
            "propagateTags": True,
        }
        if priority is not None:
            request["schedulingPriorityOverride"] = priority
        if array_size is not None:
            request["arrayProperties"] = {"size": array_size}
        if container_overrides:
            request["containerOverrides"] = container_overrides
        return self._submit_client.submit_job(**request)["jobId"]

    def find_by_name(self, name: str) -> str | None:
        """The id of the newest job in our queue with this exact name, if any.

        An array job's children carry its name; the array job itself is what a name finds (a
        child's id, ``ARRAY_ID:INDEX``, is skipped should a listing hold children, as moto's does)."""
        pages = self.clients.batch.get_paginator("list_jobs").paginate(
            jobQueue=self.queue, filters=[{"name": "JOB_NAME", "values": [name]}])
        found = [j for page in pages for j in page.get("jobSummaryList", [])
                 if j["jobName"] == name and not _is_array_child(j["jobId"])]
        if not found:
            return None
        return max(found, key=lambda j: j.get("createdAt", 0))["jobId"]

    def describe(self, job_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
        ids = list(dict.fromkeys(job_ids))
        for start in range(0, len(ids), DESCRIBE_BATCH):
            response = self.clients.batch.describe_jobs(jobs=ids[start:start + DESCRIBE_BATCH])
            yield from response.get("jobs", [])

    def terminate(self, job_id: str, reason: str) -> None:
        self.clients.batch.terminate_job(jobId=job_id, reason=reason[:256])

    def list_in_queue(self, status: str) -> Iterator[dict[str, Any]]:
        """The summary of every job of our queue in *status*, page by page (ListJobs)."""
        pages = self.clients.batch.get_paginator("list_jobs").paginate(jobQueue=self.queue, jobStatus=status)
        for page in pages:
            yield from page.get("jobSummaryList", [])


def _is_array_child(job_id: str) -> bool:
    """Batch names an array job's child ``ARRAY_ID:INDEX``; no other job id has a colon."""
    _, sep, index = job_id.rpartition(":")
    return bool(sep) and index.isdigit()
