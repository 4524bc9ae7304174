-- Corral's schema on Postgres. Kept column for column in step with migrations/sqlite/0001_init.sql:
-- the store runs the same queries on both. Timestamps are RFC 3339 UTC text of fixed width
-- (they sort as text); JSON documents are text.

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    user_ref     TEXT,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT,
    model         TEXT NOT NULL,
    system_prompt TEXT NOT NULL,
    settings      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE components (
    sha256     TEXT PRIMARY KEY,
    bytes      BYTEA NOT NULL,
    size       BIGINT NOT NULL,
    imports    TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE tools (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    kind             TEXT NOT NULL,
    input_schema     TEXT NOT NULL,
    config           TEXT NOT NULL,
    component_sha256 TEXT REFERENCES components (sha256),
    descriptor       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT tools_name_key UNIQUE (name)
);

CREATE TABLE tool_assignments (
    id              TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tool_name       TEXT NOT NULL,
    config_override TEXT NOT NULL,
    confirmation    TEXT NOT NULL,
    grants          TEXT NOT NULL,
    limits          TEXT NOT NULL,
    config          TEXT NOT NULL,
    secrets         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT tool_assignments_agent_tool_key UNIQUE (agent_id, tool_name)
);

CREATE TABLE knowledge_bases (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    settings    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE agent_knowledge_bases (
    id                TEXT PRIMARY KEY,
    agent_id          TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    knowledge_base_id TEXT NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    created_at        TEXT NOT NULL,
    CONSTRAINT agent_knowledge_bases_pair_key UNIQUE (agent_id, knowledge_base_id)
);

CREATE TABLE mcp_servers (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    transport  TEXT NOT NULL,
    headers    TEXT NOT NULL,
    config     TEXT NOT NULL,
    enabled    BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT mcp_servers_agent_name_key UNIQUE (agent_id, name)
);

CREATE TABLE hooks (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    hook_type  TEXT NOT NULL,
    config     TEXT NOT NULL,
    matcher    TEXT,
    enabled    BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    owner      TEXT NOT NULL,
    title      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sessions_agent_owner ON sessions (agent_id, owner);

CREATE TABLE runs (
    id                           TEXT PRIMARY KEY,
    agent_id                     TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    session_id                   TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    owner                        TEXT NOT NULL,
    parent_orchestration_run_id  TEXT,
    parent_workflow_execution_id TEXT,
    status                       TEXT NOT NULL,
    input_messages               TEXT NOT NULL,
    output_messages              TEXT NOT NULL,
    content                      TEXT,
    usage                        TEXT NOT NULL,
    retrieved_context            TEXT NOT NULL,
    error                        TEXT,
    steps                        TEXT NOT NULL,
    tool_calls                   TEXT NOT NULL,
    reasoning_steps              TEXT NOT NULL,
    started_at                   TEXT,
    completed_at                 TEXT,
    created_at                   TEXT NOT NULL
);
CREATE INDEX runs_session ON runs (session_id);

CREATE TABLE run_events (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    event      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
