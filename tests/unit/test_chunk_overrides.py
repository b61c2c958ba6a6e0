"""A chunk's container on Batch: the size chosen for its chunk (services.chunked, services.scan)
and the chunk's own variables, in one containerOverrides (SubmitJob takes one), the job
definition's command kept."""

from __future__ import annotations

from videoctl.domain.executor import CHUNK_ATTEMPT_VARIABLE, CHUNK_INDEX_VARIABLE
from videoctl.domain.sizing import ContainerSize
from videoctl.executor.batch import BatchExecutor, container_overrides


class RecordingBatch:
    def __init__(self):
        self.requests = []

    def submit(self, name, **kwargs):
        self.requests.append({"name": name, **kwargs})
        return "batch-job-1"


def test_a_chunk_sent_alone_gets_the_size_it_is_given_and_is_told_its_index():
    batch = RecordingBatch()
    BatchExecutor(batch).submit_chunk("chunk", job_id=5, video_id=1, attempt=2, index=3,
                                      container_size=ContainerSize(4, 8192))
    [request] = batch.requests
    assert request["container_overrides"] == {
        "resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "8192"}],
        "environment": [{"name": CHUNK_INDEX_VARIABLE, "value": "3"}, {"name": CHUNK_ATTEMPT_VARIABLE, "value": "2"}]}


def test_an_array_of_chunks_gives_every_child_the_one_size_it_is_given():
    batch = RecordingBatch()
    ids = BatchExecutor(batch).submit_array("chunks", job_id=5, video_id=1, attempt=2, size=3,
                                            container_size=ContainerSize(2, 4096))
    [request] = batch.requests
    assert ids == ["batch-job-1:0", "batch-job-1:1", "batch-job-1:2"] and request["array_size"] == 3
    assert request["container_overrides"]["resourceRequirements"][1] == {"type": "MEMORY", "value": "4096"}
    assert request["container_overrides"]["environment"] == [{"name": CHUNK_ATTEMPT_VARIABLE, "value": "2"}]


def test_no_size_and_no_variables_keep_the_job_definition():
    assert container_overrides(None) is None
    assert container_overrides(None, {CHUNK_ATTEMPT_VARIABLE: "1"}) == {
        "environment": [{"name": CHUNK_ATTEMPT_VARIABLE, "value": "1"}]}
