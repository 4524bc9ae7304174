//! `database_query` and `database_write` through the real boundary and sandbox, on SQLite (the
//! embedded default) and on Postgres (127.0.0.1:5432, database `test`, a fresh pair of schemas
//! per test): reads and writes on granted tables, the approval gate, the statement timeout and
//! row cap, Postgres' column types, and a corpus of attacks, none of which may read or change
//! anything outside the grant.

use corral::artifacts;
use corral::boundary::CallOutcome;
use corral::boundary::assignment::{AssignmentSpec, Toolset};
use corral::boundary::gate::ConfirmationSetting;
use corral::capabilities::database::DataDatabase;
use corral::sandbox::limits::LimitOverrides;
use corral::tool::FailureKind;
use corral_tests::api::postgres_base_url;
use corral_tests::{Host, assign, call};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// What no successful or refused call may ever show.
const SECRET: &str = "TOPSECRET";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A data database with granted tables `notes` and `items`, and `secrets` tables that are not
/// granted: one beside them (same schema) and, on Postgres, one in another schema.
struct Db {
    host: Host,
    backend: Backend,
    /// The granted schema.
    g: String,
    /// The other schema (`main` again on SQLite, which has one).
    s: String,
    admin: Option<PgPool>,
}

impl Db {
    async fn sqlite() -> Self {
        let host = Host::new();
        let conn = rusqlite::Connection::open(host.data.path().join("data.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, data BLOB);
             CREATE TABLE items (id INTEGER PRIMARY KEY, note_id INTEGER, name TEXT, price REAL);
             CREATE TABLE secrets (id INTEGER PRIMARY KEY, token TEXT);
             INSERT INTO notes VALUES (1, 'hello', x'00ff'), (2, 'world', NULL);
             INSERT INTO items VALUES (1, 1, 'pen', 1.5), (2, 1, 'ink', 2.25), (3, 2, 'pad', 3.0);
             INSERT INTO secrets VALUES (1, 'TOPSECRET-1'), (2, 'TOPSECRET-2');",
        )
        .unwrap();
        Self::ready(host, Backend::Sqlite, "main".into(), "main".into(), None).await
    }

    async fn postgres() -> Self {
        let url = postgres_base_url();
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("the database tests need Postgres at {url}: {e}"));
        let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let (g, s) = (format!("dbt_{tag}"), format!("dbt_{tag}_private"));
        for sql in [
            format!("CREATE SCHEMA {g}"),
            format!("CREATE SCHEMA {s}"),
            format!("CREATE TABLE {g}.notes (id int PRIMARY KEY, body text, data bytea)"),
            format!(
                "CREATE TABLE {g}.items (id int PRIMARY KEY, note_id int, name text, price float8)"
            ),
            format!("CREATE TABLE {g}.secrets (id int PRIMARY KEY, token text)"),
            format!("CREATE TABLE {s}.secrets (id int PRIMARY KEY, token text)"),
            format!("CREATE SEQUENCE {g}.counter"),
            format!("INSERT INTO {g}.notes VALUES (1, 'hello', '\\x00ff'), (2, 'world', NULL)"),
            format!(
                "INSERT INTO {g}.items VALUES (1, 1, 'pen', 1.5), (2, 1, 'ink', 2.25), (3, 2, 'pad', 3.0)"
            ),
            format!("INSERT INTO {g}.secrets VALUES (1, 'TOPSECRET-1'), (2, 'TOPSECRET-2')"),
            format!("INSERT INTO {s}.secrets VALUES (1, 'TOPSECRET-3')"),
        ] {
            sqlx::query(&sql).execute(&admin).await.unwrap();
        }
        let data = DataDatabase::from_url(&url).unwrap();
        let host = Host::with_data_database(Some(data));
        Self::ready(host, Backend::Postgres, g, s, Some(admin)).await
    }

    async fn ready(
        host: Host,
        backend: Backend,
        g: String,
        s: String,
        admin: Option<PgPool>,
    ) -> Self {
        host.load(artifacts::DATABASE).await;
        Self {
            host,
            backend,
            g,
            s,
            admin,
        }
    }

    async fn both() -> [Self; 2] {
        [Self::sqlite().await, Self::postgres().await]
    }

    /// `tool` granted `notes` and `items`; writes without asking unless `confirmation` says so.
    fn assignment(&self, tool: &str, confirmation: ConfirmationSetting) -> AssignmentSpec {
        AssignmentSpec {
            config_override: json!({"schemas": {self.g.clone(): ["notes", "items"]}}),
            confirmation,
            ..assign(tool)
        }
    }

    fn toolset(&self) -> Toolset {
        self.host.toolset([
            self.assignment("database_query", ConfirmationSetting::Default),
            self.assignment("database_write", ConfirmationSetting::Never),
        ])
    }

    /// `{g}`, `{s}` and `{q1}`, `{q2}` (placeholders) filled in for this backend.
    fn sql(&self, template: &str) -> String {
        let (q1, q2) = match self.backend {
            Backend::Sqlite => ("?1", "?2"),
            Backend::Postgres => ("$1", "$2"),
        };
        template
            .replace("{g}", &self.g)
            .replace("{s}", &self.s)
            .replace("{q1}", q1)
            .replace("{q2}", q2)
    }

    async fn query(&self, toolset: &Toolset, sql: &str, params: Value) -> Result<Value, String> {
        let args = json!({"sql": self.sql(sql), "params": params});
        let done = self.host.call(toolset, "database_query", args).await;
        done.result
            .map_err(|f| format!("{:?}: {}", f.kind, f.message))
    }

    async fn write(&self, toolset: &Toolset, sql: &str, params: Value) -> Result<Value, String> {
        let args = json!({"sql": self.sql(sql), "params": params});
        let done = self.host.call(toolset, "database_write", args).await;
        done.result
            .map_err(|f| format!("{:?}: {}", f.kind, f.message))
    }

    /// Everything an attack could change or leak, as text: secrets, notes, the list of tables.
    async fn snapshot(&self) -> String {
        match &self.admin {
            None => {
                let conn =
                    rusqlite::Connection::open(self.host.data.path().join("data.db")).unwrap();
                let text = |sql: &str| -> String {
                    conn.query_row(sql, [], |r| r.get::<_, Option<String>>(0))
                        .unwrap()
                        .unwrap_or_default()
                };
                [
                    text("SELECT group_concat(id || '=' || token, ',') FROM secrets"),
                    text("SELECT group_concat(id || '=' || body, ',') FROM notes"),
                    text("SELECT group_concat(name, ',') FROM sqlite_master"),
                ]
                .join(" | ")
            }
            Some(admin) => {
                let (g, s) = (&self.g, &self.s);
                let mut parts = Vec::new();
                for sql in [
                    format!(
                        "SELECT string_agg(id || '=' || token, ',' ORDER BY id) FROM {g}.secrets"
                    ),
                    format!(
                        "SELECT string_agg(id || '=' || token, ',' ORDER BY id) FROM {s}.secrets"
                    ),
                    format!("SELECT string_agg(id || '=' || body, ',' ORDER BY id) FROM {g}.notes"),
                    format!(
                        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
                         WHERE table_schema IN ('{g}', '{s}', 'public')"
                    ),
                ] {
                    let v: Option<String> =
                        sqlx::query_scalar(&sql).fetch_one(admin).await.unwrap();
                    parts.push(v.unwrap_or_default());
                }
                parts.join(" | ")
            }
        }
    }

    async fn cleanup(self) {
        if let Some(admin) = &self.admin {
            for schema in [&self.g, &self.s] {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(admin)
                    .await
                    .unwrap();
            }
        }
    }
}

fn rows(result: &Value) -> &Value {
    &result["rows"]
}

#[tokio::test]
async fn queries_read_granted_tables_with_params_joins_ctes_and_qualified_names() {
    for db in Db::both().await {
        let tools = db.toolset();
        let label = format!("{:?}", db.backend);
        let by_id = db
            .query(
                &tools,
                "SELECT id, body FROM notes WHERE id = {q1}",
                json!([1]),
            )
            .await
            .unwrap();
        assert_eq!(by_id["columns"], json!(["id", "body"]), "{label}");
        assert_eq!(rows(&by_id), &json!([[1, "hello"]]), "{label}");
        assert_eq!(by_id["truncated"], false);

        let joined = db
            .query(
                &tools,
                "SELECT n.body, i.name, i.price FROM {g}.notes n JOIN items i ON i.note_id = n.id \
                 WHERE i.price > {q1} ORDER BY i.id",
                json!([2]),
            )
            .await
            .unwrap();
        assert_eq!(
            rows(&joined),
            &json!([["hello", "ink", 2.25], ["world", "pad", 3.0]]),
            "{label}"
        );

        let cte = db
            .query(
                &tools,
                "WITH cheap AS (SELECT note_id FROM items WHERE price < 2) \
                 SELECT body FROM notes WHERE id IN (SELECT note_id FROM cheap) \
                 UNION ALL SELECT name FROM items WHERE id = 3",
                json!([]),
            )
            .await
            .unwrap();
        assert_eq!(rows(&cte), &json!([["hello"], ["pad"]]), "{label}");

        let blob = db
            .query(&tools, "SELECT data FROM notes WHERE id = 1", json!([]))
            .await
            .unwrap();
        assert_eq!(rows(&blob), &json!([[{"base64": "AP8="}]]), "{label}");

        let empty = db
            .query(
                &tools,
                "SELECT id, body FROM notes WHERE id > 100",
                json!([]),
            )
            .await
            .unwrap();
        assert_eq!(empty["columns"], json!(["id", "body"]), "{label}");
        assert_eq!(empty["row_count"], 0);

        let few = db
            .query(&tools, "SELECT id FROM items ORDER BY id", json!([]))
            .await
            .map(|mut v| {
                v["asked"] = json!(1);
                v
            })
            .unwrap();
        assert_eq!(few["row_count"], 3);
        let capped = db.host.call(
            &tools,
            "database_query",
            json!({"sql": "SELECT id FROM items ORDER BY id", "max_rows": 2}),
        );
        let capped = capped.await.result.unwrap();
        assert_eq!(rows(&capped), &json!([[1], [2]]), "{label}");
        assert_eq!(capped["truncated"], true);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn writes_change_granted_tables_and_report_rows_affected() {
    for db in Db::both().await {
        let tools = db.toolset();
        let label = format!("{:?}", db.backend);
        let inserted = db
            .write(
                &tools,
                "INSERT INTO notes (id, body, data) VALUES ({q1}, {q2}, NULL)",
                json!([3, "from the agent"]),
            )
            .await
            .unwrap();
        assert_eq!(inserted, json!({"rows_affected": 1}), "{label}");
        // A NULL parameter takes the column's type on Postgres too.
        let nulled = db
            .write(
                &tools,
                "UPDATE notes SET body = {q1} WHERE id >= {q2}",
                json!([null, 2]),
            )
            .await
            .unwrap();
        assert_eq!(nulled["rows_affected"], 2, "{label}");
        let deleted = db
            .write(
                &tools,
                "DELETE FROM {g}.items WHERE note_id = {q1}",
                json!([1]),
            )
            .await
            .unwrap();
        assert_eq!(deleted["rows_affected"], 2, "{label}");
        let after = db
            .query(&tools, "SELECT id, body FROM notes ORDER BY id", json!([]))
            .await
            .unwrap();
        assert_eq!(
            rows(&after),
            &json!([[1, "hello"], [2, null], [3, null]]),
            "{label}"
        );
        // A constraint violation is the model's to fix, and changes nothing.
        let duplicate = db
            .write(
                &tools,
                "INSERT INTO notes (id, body) VALUES (1, 'again')",
                json!([]),
            )
            .await
            .unwrap_err();
        assert!(
            duplicate.to_lowercase().contains("unique") || duplicate.contains("duplicate"),
            "{label}: {duplicate}"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn database_write_waits_for_approval_by_default_and_queries_do_not() {
    let db = Db::sqlite().await;
    let tools = db.host.toolset([
        db.assignment("database_query", ConfirmationSetting::Default),
        db.assignment("database_write", ConfirmationSetting::Default),
    ]);
    let before = db.snapshot().await;
    let outcome = db
        .host
        .boundary
        .call(
            &tools,
            call(
                "database_write",
                json!({"sql": "DELETE FROM notes", "params": []}),
            ),
            false,
        )
        .await;
    let CallOutcome::Pending(action) = outcome else {
        panic!("database_write ran without approval");
    };
    assert_eq!(action.tool_type.as_deref(), Some("database"));
    assert!(
        action.description.contains("DELETE FROM notes"),
        "{}",
        action.description
    );
    assert_eq!(db.snapshot().await, before, "nothing ran before ALLOW");
    // Reading runs at once.
    assert!(db.query(&tools, "SELECT 1", json!([])).await.is_ok());
}

#[tokio::test]
async fn without_a_schema_grant_every_statement_is_denied() {
    let db = Db::sqlite().await;
    let tools = db.host.toolset([assign("database_query")]);
    let error = db
        .query(&tools, "SELECT * FROM notes", json!([]))
        .await
        .unwrap_err();
    assert!(error.starts_with("Denied"), "{error}");
    assert!(error.contains("config_override.schemas"), "{error}");
    // A grant naming a schema SQLite does not have says what to write instead.
    let wrong = db.host.toolset([AssignmentSpec {
        config_override: json!({"schemas": {"public": ["notes"]}}),
        ..assign("database_query")
    }]);
    let error = db
        .query(&wrong, "SELECT * FROM notes", json!([]))
        .await
        .unwrap_err();
    assert!(error.contains("only schema is `main`"), "{error}");
}

#[tokio::test]
async fn a_runaway_query_is_stopped_and_huge_results_are_capped() {
    for db in Db::both().await {
        let label = format!("{:?}", db.backend);
        let tools = db.host.toolset([AssignmentSpec {
            limits: LimitOverrides {
                timeout_ms: Some(1500),
                ..Default::default()
            },
            ..db.assignment("database_query", ConfirmationSetting::Default)
        }]);
        let forever = db
            .query(
                &tools,
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                 SELECT count(*) FROM c",
                json!([]),
            )
            .await
            .unwrap_err();
        assert!(forever.contains("did not finish"), "{label}: {forever}");

        let many = db
            .host
            .call(
                &tools,
                "database_query",
                json!({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x FROM c",
                       "max_rows": 1000}),
            )
            .await
            .result
            .unwrap();
        assert_eq!(many["row_count"], 1000, "{label}");
        assert_eq!(many["truncated"], true, "{label}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn postgres_column_types_come_back_readable() {
    let db = Db::postgres().await;
    let tools = db.toolset();
    let result = db
        .query(
            &tools,
            "SELECT 12.50::numeric AS n, DATE '2024-03-01' AS d, \
             TIMESTAMPTZ '2024-03-01 12:30:00.25+00' AS ts, \
             '550e8400-e29b-41d4-a716-446655440000'::uuid AS u, '{\"a\": [1]}'::jsonb AS j, \
             true AS b, 1.5::float4 AS f, 7::int2 AS small, 'x'::varchar AS v, \
             interval '1 day' AS i, {q1}::int AS p",
            json!([41]),
        )
        .await
        .unwrap();
    let row = &rows(&result)[0];
    assert_eq!(row[0], "12.50");
    assert_eq!(row[1], "2024-03-01");
    assert_eq!(row[2], "2024-03-01T12:30:00.25Z");
    assert_eq!(row[3], "550e8400-e29b-41d4-a716-446655440000");
    assert_eq!(row[4], "{\"a\": [1]}");
    assert_eq!(row[5], true);
    assert_eq!(row[6], 1.5);
    assert_eq!(row[7], 7);
    assert_eq!(row[8], "x");
    assert!(row[9].as_str().unwrap().contains("::text"), "{}", row[9]);
    assert_eq!(row[10], 41);
    db.cleanup().await;
}

// ---------------------------------------------------------------- the attack corpus

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Query,
    Write,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Must be refused.
    Refused,
    /// May run (e.g. a comment that hides nothing), but shows and changes nothing outside.
    Harmless,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    Both,
    Sqlite,
    Postgres,
}

use Expect::{Harmless, Refused};
use Only::{Both, Postgres, Sqlite};
use Tool::{Query, Write};

/// `{g}`: the granted schema; `{s}`: another schema; `secrets` is an ungranted table beside the
/// granted `notes` and `items`.
const ATTACKS: &[(Tool, Only, Expect, &str)] = &[
    // Plain reads of ungranted tables.
    (Query, Both, Refused, "SELECT * FROM secrets"),
    (Query, Both, Refused, "SELECT * FROM {g}.secrets"),
    (Query, Both, Refused, "SELECT * FROM {s}.secrets"),
    (Query, Both, Refused, "SELECT token FROM SeCrEtS"),
    (Query, Both, Refused, "SELECT * FROM \"secrets\""),
    (Query, Both, Refused, "SELECT * FROM {g}.\"secrets\""),
    (Query, Both, Refused, "SELECT * FROM \"{g}\".secrets"),
    (Query, Both, Refused, "SELECT * FROM /* notes */ secrets"),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes AS n, secrets AS notes",
    ),
    (Query, Both, Refused, "SELECT * FROM other_db.{g}.notes"),
    // Several statements.
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes; SELECT * FROM secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes; DROP TABLE secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT 1; COMMIT; DELETE FROM secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes -- comment\n; DELETE FROM secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes\0; DROP TABLE secrets",
    ),
    (
        Query,
        Both,
        Harmless,
        "SELECT * FROM notes /* ; DELETE FROM secrets */ WHERE 1 = 1",
    ),
    (
        Query,
        Both,
        Harmless,
        "SELECT * FROM notes WHERE body = '' OR 1 = 1; -- trailing",
    ),
    (
        Query,
        Both,
        Harmless,
        "SELECT '; DELETE FROM secrets' AS text FROM notes",
    ),
    // Set operations, subqueries, joins, CTEs.
    (
        Query,
        Both,
        Refused,
        "SELECT id, body FROM notes UNION SELECT id, token FROM secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT id, body FROM notes UNION ALL SELECT id, token FROM {s}.secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT id, body FROM notes INTERSECT SELECT id, token FROM secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT id, body FROM notes EXCEPT SELECT id, token FROM secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT (SELECT token FROM secrets LIMIT 1)",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes WHERE EXISTS (SELECT 1 FROM secrets)",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes WHERE body IN (SELECT token FROM secrets)",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM (SELECT * FROM secrets) AS t",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes JOIN secrets ON true",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes LEFT JOIN {s}.secrets s ON s.id = notes.id",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes CROSS JOIN (SELECT token FROM secrets) x",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes ORDER BY (SELECT token FROM secrets LIMIT 1)",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT id FROM notes GROUP BY id HAVING (SELECT count(*) FROM secrets) > 0",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM notes WHERE id = (SELECT count(*) FROM {s}.secrets)",
    ),
    (
        Query,
        Both,
        Refused,
        "VALUES ((SELECT token FROM secrets LIMIT 1))",
    ),
    (
        Query,
        Both,
        Refused,
        "WITH x AS (SELECT * FROM secrets) SELECT * FROM x",
    ),
    (
        Query,
        Both,
        Refused,
        "WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets",
    ),
    (
        Query,
        Both,
        Refused,
        "WITH a AS (SELECT 1), b AS (SELECT token FROM secrets) SELECT * FROM b",
    ),
    (
        Query,
        Both,
        Refused,
        "WITH RECURSIVE r(t) AS (SELECT token FROM secrets UNION SELECT t FROM r) SELECT * FROM r",
    ),
    (
        Query,
        Both,
        Refused,
        "WITH x AS (SELECT 1) SELECT * FROM notes, (WITH y AS (SELECT * FROM secrets) SELECT * FROM y) z",
    ),
    (
        Query,
        Both,
        Harmless,
        "WITH notes AS (SELECT 'shadow' AS body) SELECT body FROM notes",
    ),
    (
        Query,
        Both,
        Refused,
        "SELECT * FROM json_each((SELECT token FROM secrets LIMIT 1))",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT * FROM notes, LATERAL (SELECT token FROM secrets) x",
    ),
    (Query, Postgres, Refused, "TABLE secrets"),
    (
        Query,
        Postgres,
        Refused,
        "WITH pg_user AS (SELECT 1) SELECT * FROM pg_user",
    ),
    // Writes, DDL, transaction control through the read-only tool.
    (Query, Both, Refused, "DELETE FROM secrets"),
    (
        Query,
        Both,
        Refused,
        "INSERT INTO notes (id, body) VALUES (9, 'x')",
    ),
    (Query, Both, Refused, "UPDATE notes SET body = 'x'"),
    (Query, Both, Refused, "DROP TABLE notes"),
    (Query, Both, Refused, "CREATE TABLE evil (x int)"),
    (Query, Both, Refused, "ALTER TABLE notes ADD COLUMN x int"),
    (Query, Both, Refused, "BEGIN"),
    (Query, Both, Refused, "COMMIT"),
    (Query, Both, Refused, "ROLLBACK"),
    (Query, Both, Refused, "SAVEPOINT a"),
    (Query, Both, Refused, "SELECT * INTO copied FROM notes"),
    (Query, Both, Refused, "SELECT * FROM notes FOR UPDATE"),
    (
        Query,
        Both,
        Refused,
        "WITH d AS (DELETE FROM notes RETURNING *) SELECT * FROM d",
    ),
    (
        Query,
        Both,
        Refused,
        "WITH d AS (DELETE FROM secrets RETURNING *) SELECT * FROM d",
    ),
    (Query, Both, Refused, "EXPLAIN SELECT * FROM secrets"),
    (
        Query,
        Postgres,
        Refused,
        "EXPLAIN ANALYZE DELETE FROM secrets",
    ),
    (Query, Both, Refused, "ANALYZE"),
    (
        Query,
        Postgres,
        Refused,
        "COPY secrets TO '/tmp/corral-leak'",
    ),
    (Query, Postgres, Refused, "COPY notes FROM '/etc/passwd'"),
    (Query, Postgres, Refused, "SET search_path = {s}"),
    (Query, Postgres, Refused, "SHOW data_directory"),
    (
        Query,
        Postgres,
        Refused,
        "GRANT SELECT ON secrets TO PUBLIC",
    ),
    (
        Query,
        Postgres,
        Refused,
        "DO $$ BEGIN DELETE FROM secrets; END $$",
    ),
    (
        Query,
        Postgres,
        Refused,
        "PREPARE p AS SELECT * FROM secrets",
    ),
    (
        Query,
        Sqlite,
        Refused,
        "ATTACH DATABASE '/tmp/corral-evil.db' AS evil",
    ),
    (Query, Sqlite, Refused, "PRAGMA writable_schema = 1"),
    (Query, Sqlite, Refused, "PRAGMA table_info(secrets)"),
    (Query, Sqlite, Refused, "VACUUM INTO '/tmp/corral-copy.db'"),
    // Catalogs.
    (Query, Sqlite, Refused, "SELECT * FROM sqlite_master"),
    (Query, Sqlite, Refused, "SELECT * FROM sqlite_schema"),
    (Query, Sqlite, Refused, "SELECT * FROM main.sqlite_master"),
    (Query, Sqlite, Refused, "SELECT * FROM temp.secrets"),
    (
        Query,
        Sqlite,
        Refused,
        "SELECT * FROM pragma_table_info('secrets')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT * FROM pg_catalog.pg_tables",
    ),
    (Query, Postgres, Refused, "SELECT * FROM pg_user"),
    (Query, Postgres, Refused, "SELECT * FROM pg_shadow"),
    (
        Query,
        Postgres,
        Refused,
        "SELECT * FROM information_schema.tables",
    ),
    // Dangerous functions, in every spelling.
    (
        Query,
        Postgres,
        Refused,
        "SELECT pg_read_file('/etc/passwd')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT PG_READ_FILE('/etc/passwd')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT \"pg_read_file\"('/etc/passwd')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT pg_catalog.pg_read_file('/etc/passwd')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT * FROM pg_read_file('/etc/passwd')",
    ),
    (Query, Postgres, Refused, "SELECT pg_ls_dir('.')"),
    (Query, Postgres, Refused, "SELECT lo_import('/etc/passwd')"),
    (
        Query,
        Postgres,
        Refused,
        "SELECT dblink('host=127.0.0.1', 'SELECT token FROM secrets')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT query_to_xml('SELECT * FROM secrets', true, true, '')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT ts_stat('SELECT to_tsvector(token) FROM secrets')",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT set_config('search_path', '{s}', true)",
    ),
    (
        Query,
        Postgres,
        Refused,
        "SELECT current_setting('data_directory')",
    ),
    (Query, Postgres, Refused, "SELECT pg_sleep(60)"),
    (Query, Postgres, Refused, "SELECT pg_terminate_backend(1)"),
    (Query, Postgres, Refused, "SELECT nextval('{g}.counter')"),
    (Query, Postgres, Refused, "SELECT {s}.anything()"),
    (
        Query,
        Sqlite,
        Refused,
        "SELECT load_extension('/tmp/evil.so')",
    ),
    (Query, Sqlite, Refused, "SELECT fts3_tokenizer('simple')"),
    (Query, Sqlite, Refused, "SELECT readfile('/etc/passwd')"),
    // The write tool: targets and sources outside the grant.
    (Write, Both, Refused, "DELETE FROM secrets"),
    (Write, Both, Refused, "UPDATE secrets SET token = 'pwned'"),
    (
        Write,
        Both,
        Refused,
        "INSERT INTO secrets (id, token) VALUES (9, 'x')",
    ),
    (
        Write,
        Both,
        Refused,
        "INSERT INTO {s}.secrets (id, token) VALUES (9, 'x')",
    ),
    (
        Write,
        Both,
        Refused,
        "INSERT INTO notes (id, body) SELECT id + 100, token FROM secrets",
    ),
    (
        Write,
        Both,
        Refused,
        "UPDATE notes SET body = (SELECT token FROM secrets LIMIT 1)",
    ),
    (
        Write,
        Both,
        Refused,
        "DELETE FROM notes WHERE id IN (SELECT id FROM secrets)",
    ),
    (
        Write,
        Both,
        Refused,
        "INSERT INTO notes (id, body) VALUES (10, 'x'); DELETE FROM secrets",
    ),
    (
        Write,
        Both,
        Refused,
        "WITH s AS (SELECT token FROM secrets) INSERT INTO notes (id, body) SELECT 11, token FROM s",
    ),
    (
        Write,
        Both,
        Refused,
        "INSERT INTO notes (id, body) VALUES (13, 'x') ON CONFLICT (id) DO UPDATE SET body = (SELECT token FROM secrets LIMIT 1)",
    ),
    (
        Write,
        Both,
        Refused,
        "UPDATE notes SET body = 'x' RETURNING (SELECT token FROM secrets LIMIT 1)",
    ),
    (
        Write,
        Both,
        Refused,
        "REPLACE INTO secrets (id, token) VALUES (1, 'x')",
    ),
    (Write, Both, Refused, "DROP TABLE secrets"),
    (Write, Both, Refused, "DELETE FROM notes; DROP TABLE notes"),
    (
        Write,
        Both,
        Refused,
        "CREATE TABLE stolen AS SELECT * FROM secrets",
    ),
    (Write, Both, Refused, "SELECT * FROM secrets"),
    (Write, Postgres, Refused, "TRUNCATE notes"),
    (
        Write,
        Postgres,
        Refused,
        "UPDATE notes SET body = s.token FROM secrets s WHERE s.id = notes.id",
    ),
    (
        Write,
        Postgres,
        Refused,
        "DELETE FROM notes USING {s}.secrets s WHERE s.id = notes.id",
    ),
    (
        Write,
        Postgres,
        Refused,
        "WITH d AS (DELETE FROM secrets RETURNING id, token) INSERT INTO notes (id, body) SELECT id + 200, token FROM d",
    ),
    (
        Write,
        Postgres,
        Refused,
        "INSERT INTO notes (id, body) VALUES (14, pg_read_file('/etc/passwd'))",
    ),
    (
        Write,
        Postgres,
        Refused,
        "INSERT INTO notes (id, body) VALUES (15, setval('{g}.counter', 99)::text)",
    ),
    (
        Write,
        Postgres,
        Refused,
        "MERGE INTO notes USING secrets s ON s.id = notes.id WHEN MATCHED THEN UPDATE SET body = s.token",
    ),
    (
        Write,
        Sqlite,
        Refused,
        "INSERT INTO notes (id, body) VALUES (16, load_extension('/tmp/evil.so'))",
    ),
];

async fn run_corpus(db: &Db) -> usize {
    let tools = db.toolset();
    let before = db.snapshot().await;
    assert!(before.contains(SECRET), "the fixture holds the secrets");
    let mut ran = 0;
    for (tool, only, expect, template) in ATTACKS {
        let applies = match only {
            Both => true,
            Sqlite => db.backend == Backend::Sqlite,
            Postgres => db.backend == Backend::Postgres,
        };
        if !applies {
            continue;
        }
        ran += 1;
        let outcome = match tool {
            Query => db.query(&tools, template, json!([])).await,
            Write => db.write(&tools, template, json!([])).await,
        };
        let shown = match &outcome {
            Ok(value) => value.to_string(),
            Err(message) => message.clone(),
        };
        let sql = db.sql(template);
        assert!(
            !shown.contains(SECRET),
            "{:?} leaked a secret with {sql:?}: {shown}",
            db.backend
        );
        if *expect == Refused {
            assert!(
                outcome.is_err(),
                "{:?} ran {sql:?} instead of refusing it: {shown}",
                db.backend
            );
            assert!(
                !shown.starts_with("Crashed") && !shown.starts_with("Unavailable"),
                "{:?}: {sql:?} should be refused cleanly: {shown}",
                db.backend
            );
        }
        assert_eq!(
            db.snapshot().await,
            before,
            "{:?}: {sql:?} changed something outside the grant",
            db.backend
        );
    }
    ran
}

#[tokio::test]
async fn the_attack_corpus_neither_reads_nor_writes_outside_the_grant_on_sqlite() {
    let db = Db::sqlite().await;
    let ran = run_corpus(&db).await;
    assert!(ran >= 50, "only {ran} attacks ran");
}

#[tokio::test]
async fn the_attack_corpus_neither_reads_nor_writes_outside_the_grant_on_postgres() {
    let db = Db::postgres().await;
    let ran = run_corpus(&db).await;
    assert!(ran >= 50, "only {ran} attacks ran");
    db.cleanup().await;
}

#[tokio::test]
async fn bad_arguments_are_explained_to_the_model() {
    let db = Db::sqlite().await;
    let tools = db.toolset();
    for (args, needle) in [
        (
            json!({"sql": "SELECT * FROM notes WHERE id = ?1"}),
            "parameter",
        ),
        (json!({"sql": "SELECT ?1", "params": [[1, 2]]}), "params[0]"),
        (json!({"sql": "SELEC * FROM notes"}), "does not parse"),
        (json!({"sql": ""}), "no statement"),
        (json!({"sql": "SELECT 1", "max_rows": 0}), "max_rows"),
        (json!({"params": []}), "sql"),
        (json!({"sql": "SELECT nope FROM notes"}), "nope"),
    ] {
        let done = db.host.call(&tools, "database_query", args.clone()).await;
        let failure = done.result.expect_err(&args.to_string());
        assert!(
            matches!(
                failure.kind,
                FailureKind::InvalidArguments | FailureKind::Failed
            ),
            "{args}: {failure:?}"
        );
        assert!(
            failure.message.contains(needle),
            "{args}: {}",
            failure.message
        );
    }
}

// ---------------------------------------------------------------- in an agent run

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reads_its_tables_and_writes_after_approval_in_a_run() {
    use axum::http::StatusCode;
    use corral_tests::api::{Db as ApiDb, TestApi};

    let api = TestApi::new(ApiDb::Sqlite).await;
    let data = api.data.path().join("data.db");
    rusqlite::Connection::open(&data)
        .unwrap()
        .execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             CREATE TABLE secrets (token TEXT);
             INSERT INTO notes VALUES (1, 'buy milk');
             INSERT INTO secrets VALUES ('TOPSECRET');",
        )
        .unwrap();
    let script = json!([
        {"tool_calls": [
            {"name": "database_query", "arguments": {"sql": "SELECT body FROM notes WHERE id = ?1", "params": [1]}},
            {"name": "database_query", "arguments": {"sql": "SELECT token FROM secrets"}}
        ]},
        {"tool_calls": [{"name": "database_write", "arguments": {"sql": "INSERT INTO notes (body) VALUES (?1)", "params": ["buy bread"]}}]},
        {"text": "Noted."}
    ]);
    let created = api
        .post("/api/agents", json!({"name": "db", "model": "scripted", "settings": {"script": script, "max_steps": 5}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let agent = created.body["id"].as_str().unwrap().to_string();
    for tool in ["database_query", "database_write"] {
        let assigned = api
            .post(
                &format!("/api/agents/{agent}/tools"),
                json!({"tool_name": tool}),
            )
            .await;
        assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
        let id = assigned.body["id"].as_str().unwrap();
        // A system schema or a malformed scope is refused when saved.
        for bad in [
            json!({"pg_catalog": ["pg_user"]}),
            json!(["notes"]),
            json!({"main": ["no-tes"]}),
        ] {
            let refused = api
                .patch(
                    &format!("/api/agents/{agent}/tools/{id}"),
                    json!({"config_override": {"schemas": bad}}),
                )
                .await;
            assert_eq!(
                refused.status,
                StatusCode::BAD_REQUEST,
                "{bad}: {}",
                refused.body
            );
            assert!(refused.error().contains("schemas"), "{}", refused.body);
        }
        let granted = api
            .patch(
                &format!("/api/agents/{agent}/tools/{id}"),
                json!({"config_override": {"schemas": {"main": ["notes"]}}}),
            )
            .await;
        assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
        assert_eq!(granted.body["applied_keys"], json!(["schemas"]));
        assert_eq!(
            granted.body["requires_confirmation"],
            tool == "database_write"
        );
    }

    let events = api
        .run_stream(
            &agent,
            &api.admin,
            json!({"message": "add bread to my list"}),
        )
        .await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.last(), Some(&"run_paused"), "{kinds:?}");
    let results: Vec<&Value> = events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e["event"] == "tool_result")
        .collect();
    assert!(
        results[0]["result_preview"]
            .as_str()
            .unwrap()
            .contains("buy milk"),
        "{}",
        results[0]
    );
    assert!(!results[1].to_string().contains(SECRET), "{}", results[1]);
    assert!(
        results[1].to_string().contains("not granted"),
        "{}",
        results[1]
    );
    let requested = events
        .iter()
        .find(|(_, e)| e["event"] == "approval_requested")
        .unwrap();
    assert_eq!(requested.1["tool_name"], "database_write");
    let count = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&data), 1, "the gated write has not run");

    let run_id = events[0].1["run_id"].as_str().unwrap();
    let allowed = api
        .post(
            &format!("/api/agents/runs/{run_id}/approve"),
            json!({"approved": true}),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    // Follow the resumed run to the end of its stream.
    let (_, rest) = TestApi::sse_on(
        &api.router,
        axum::http::Request::get(format!("/api/agents/runs/{run_id}/events"))
            .header("authorization", format!("Bearer {}", api.admin))
            .header("last-event-id", events.last().unwrap().0.to_string())
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(rest.last().unwrap().1["event"], "complete", "{rest:?}");
    let status = api.get(&format!("/api/agents/runs/{run_id}")).await.body["status"].clone();
    assert_eq!(status, "completed");
    assert_eq!(count(&data), 2, "ALLOW ran the write once");

    let run = api.get(&format!("/api/agents/runs/{run_id}")).await;
    assert_eq!(run.body["tool_calls"].as_array().unwrap().len(), 3);
}
