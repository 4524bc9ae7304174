-- Tool calls waiting for a human's ALLOW/DENY, persisted so an approval survives a restart and
-- can be given on any server instance. `status` moves pending -> taken (one UPDATE, so exactly
-- one decision wins) -> done (the tool message is in `result`).
CREATE TABLE pending_actions (
    action_id     TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step          BIGINT NOT NULL,
    position      BIGINT NOT NULL,
    call_id       TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    tool_name     TEXT NOT NULL,
    tool_type     TEXT,
    arguments     TEXT NOT NULL,
    description   TEXT NOT NULL,
    status        TEXT NOT NULL,
    decision      TEXT,
    decided_by    TEXT,
    reason        TEXT,
    result        TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX pending_actions_run ON pending_actions (run_id, status);

-- Where a run is in its tool loop and what it was asked, so any instance can resume it.
ALTER TABLE runs ADD COLUMN step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
