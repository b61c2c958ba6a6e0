-- Events for the app (docs/events.md): the second transactional outbox, after
-- r2_delete_request. A row is written in the transaction of the transition it
-- reports (video READY or FAILED, job FAILED, DEAD or CANCELLED), sent after the
-- commit, and resent by every drain until a target acknowledges it.
--
-- id is the row's number (the envelope's "sequence", what `events discard` takes);
-- event_id is the stable id receivers deduplicate on, the same on every resend.
--
-- No foreign keys on purpose: an event is a self-contained record of what happened
-- (its data is the whole payload), so `jobs prune` deletes job rows without waiting
-- for their events to be delivered, and a pending event still goes out whole.
CREATE TABLE event (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    type            text NOT NULL,
    video_id        bigint,
    job_id          bigint,
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_error      text,
    delivered_at    timestamptz,
    -- Where it went (eventbridge:BUS, sns:ARN, the webhook URL) and what the target
    -- answered (an EventBridge event id, an SNS message id, an HTTP status).
    delivered_to    text,
    receipt         text,
    discarded_at    timestamptz,
    discard_reason  text
);

-- What every drain reads: the pending rows, oldest first.
CREATE INDEX event_pending_idx ON event (id) WHERE delivered_at IS NULL AND discarded_at IS NULL;
CREATE INDEX event_video_idx ON event (video_id, id);
