"""A minimal AWS Batch setup for moto, shared by the tests and the benchmarks."""

from __future__ import annotations

BATCH_QUEUE = "academy-video-batch-queue"
BATCH_JOB_DEFINITION = "academy-video-batch-jobdef"


def create_batch_resources(region: str = "us-east-1") -> dict[str, str]:
    """A minimal Batch setup in moto: compute environment, queue, job definition."""
    import boto3

    iam = boto3.client("iam", region_name=region)
    role = iam.create_role(RoleName="batch-service-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch", region_name=region)
    env_arn = batch.create_compute_environment(
        computeEnvironmentName="video-ce", type="UNMANAGED", state="ENABLED", serviceRole=role,
    )["computeEnvironmentArn"]
    queue_arn = batch.create_job_queue(
        jobQueueName=BATCH_QUEUE, state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env_arn}],
    )["jobQueueArn"]
    definition_arn = batch.register_job_definition(
        jobDefinitionName=BATCH_JOB_DEFINITION, type="container",
        containerProperties={"image": "videoctl:test", "vcpus": 1, "memory": 512,
                             "command": ["videoctl", "run-job", "Ref::job_id"]},
        retryStrategy={"attempts": 1},
    )["jobDefinitionArn"]
    return {"queue": queue_arn, "job_definition": definition_arn}


def capture_submit_jobs(session) -> list[dict]:
    """Every SubmitJob request the clients of this boto3 session send from now on, as the body
    botocore serialised for the wire (a ``before-call`` hook on the session's events, which every
    client made from the session afterwards carries)."""
    import json

    sent: list[dict] = []

    def record(params, **_):
        sent.append(json.loads(params["body"]))

    session.events.register("before-call.batch.SubmitJob", record)
    return sent


def container_environment(batch, job_id: str) -> dict[str, str]:
    """The environment Batch gives the container of ``job_id``, as DescribeJobs tells it: the job
    definition's variables, the submission's overrides, AWS_BATCH_JOB_ID; and for a child of an
    array job (``ARRAY_ID:INDEX``) AWS_BATCH_JOB_ARRAY_INDEX, which Batch sets in each child and
    moto leaves out. What a test gives an in-process run-job for that container."""
    [job] = batch.describe_jobs(jobs=[job_id])["jobs"]
    environment = {e["name"]: e["value"] for e in job.get("container", {}).get("environment", [])}
    _, sep, index = job_id.rpartition(":")
    if sep and index.isdigit():
        environment["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.get("arrayProperties", {}).get("index", index))
    return environment


def batch_reports(session, statuses: dict[str, dict]) -> None:
    """DescribeJobs answers, for each id of ``statuses``, with those fields (``status``,
    ``statusReason``, ``attempts``) instead of moto's: moto without Docker marks every container
    SUCCEEDED at once, where a test needs one RUNNING or FAILED as Batch would report it. An
    ``after-call`` hook on the session's events (botocore's public hooks, never moto's private
    names); ``statuses`` is read at each call, so the test may change it as the story goes."""

    def answer(parsed, **_):
        for job in parsed.get("jobs", []):
            job.update(statuses.get(job["jobId"], {}))

    session.events.register("after-call.batch.DescribeJobs", answer)
