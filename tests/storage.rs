//! The storage capability through a real guest (`plugins/examples/notes`): a bucket per grant,
//! denied without one, and buckets never see each other.

use corral::artifacts;
use corral::boundary::CallOutcome;
use corral::boundary::assignment::AssignmentSpec;
use corral::boundary::gate::Approval;
use corral::capabilities::Grants;
use corral::capabilities::storage::StorageGrant;
use corral::tool::FailureKind;
use corral_tests::{Host, assign, call};
use serde_json::json;

fn in_bucket(tool: &str, bucket: &str) -> AssignmentSpec {
    AssignmentSpec {
        id: format!("{tool}-{bucket}"),
        grants: Grants {
            http: None,
            storage: Some(StorageGrant::new(bucket).unwrap()),
        },
        ..assign(tool)
    }
}

#[tokio::test]
async fn notes_round_trip_in_the_granted_bucket() {
    let host = Host::new();
    host.load(artifacts::NOTES).await;
    let toolset = host.toolset(
        ["save_note", "read_note", "list_notes", "delete_note"].map(|t| in_bucket(t, "team-a")),
    );
    host.call(
        &toolset,
        "save_note",
        json!({"name": "todo", "text": "buy milk"}),
    )
    .await
    .result
    .unwrap();
    let read = host
        .call(&toolset, "read_note", json!({"name": "todo"}))
        .await
        .result
        .unwrap();
    assert_eq!(read["text"], "buy milk");
    let listed = host
        .call(&toolset, "list_notes", json!({}))
        .await
        .result
        .unwrap();
    assert_eq!(listed["notes"].as_array().unwrap().len(), 1);
    assert!(
        host.data
            .path()
            .join("buckets/team-a/objects/notes/todo.txt")
            .is_file(),
        "stored under the data dir"
    );

    // delete_note asks for confirmation by default.
    let CallOutcome::Pending(action) = host
        .boundary
        .call(
            &toolset,
            call("delete_note", json!({"name": "todo"})),
            false,
        )
        .await
    else {
        panic!("delete_note is gated by default");
    };
    host.boundary
        .decide(&toolset, &action.action_id, Approval::Allow, "op")
        .await
        .unwrap()
        .result
        .unwrap();
    let missing = host
        .call(&toolset, "read_note", json!({"name": "todo"}))
        .await
        .result
        .unwrap_err();
    assert_eq!(missing.kind, FailureKind::NotFound, "{}", missing.message);
}

#[tokio::test]
async fn storage_is_denied_without_a_grant() {
    let host = Host::new();
    host.load(artifacts::NOTES).await;
    let toolset = host.toolset([assign("save_note")]);
    let failure = host
        .call(&toolset, "save_note", json!({"name": "x", "text": "y"}))
        .await
        .result
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::Denied, "{}", failure.message);
    assert!(
        !host.data.path().join("buckets").exists(),
        "nothing was created"
    );
}

#[tokio::test]
async fn buckets_are_isolated_from_each_other() {
    let host = Host::new();
    host.load(artifacts::NOTES).await;
    let a = host.toolset([in_bucket("save_note", "a")]);
    let b = host.toolset([in_bucket("read_note", "b")]);
    host.call(
        &a,
        "save_note",
        json!({"name": "secret", "text": "only for a"}),
    )
    .await
    .result
    .unwrap();
    let failure = host
        .call(&b, "read_note", json!({"name": "secret"}))
        .await
        .result
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::NotFound);
}

#[tokio::test]
async fn note_names_that_try_to_escape_are_refused() {
    let host = Host::new();
    host.load(artifacts::NOTES).await;
    let toolset = host.toolset([in_bucket("save_note", "a")]);
    for name in ["../x", "a/b", "", "x".repeat(65).as_str()] {
        let failure = host
            .call(&toolset, "save_note", json!({"name": name, "text": "t"}))
            .await
            .result
            .unwrap_err();
        assert_eq!(
            failure.kind,
            FailureKind::InvalidArguments,
            "{name:?}: {}",
            failure.message
        );
    }
}

#[tokio::test]
async fn a_guest_cannot_escape_its_bucket_with_raw_paths() {
    let host = Host::new();
    host.load(artifacts::HOSTILE).await;
    std::fs::create_dir_all(host.data.path().join("buckets")).unwrap();
    std::fs::write(
        host.data.path().join("buckets/secret.txt"),
        "outside the bucket",
    )
    .unwrap();
    let toolset = host.toolset([
        in_bucket("write_storage_path", "jail"),
        in_bucket("read_storage_path", "jail"),
    ]);
    for path in [
        "../secret.txt",
        "../../buckets/secret.txt",
        "/etc/passwd",
        "a/../../secret.txt",
        "a\0b",
        "..",
        "",
    ] {
        let read = host
            .call(&toolset, "read_storage_path", json!({"path": path}))
            .await
            .result
            .unwrap_err();
        assert_eq!(
            read.kind,
            FailureKind::InvalidArguments,
            "{path:?}: {}",
            read.message
        );
        let write = host
            .call(&toolset, "write_storage_path", json!({"path": path}))
            .await
            .result
            .unwrap_err();
        assert_eq!(
            write.kind,
            FailureKind::InvalidArguments,
            "{path:?}: {}",
            write.message
        );
    }
    assert_eq!(
        std::fs::read_to_string(host.data.path().join("buckets/secret.txt")).unwrap(),
        "outside the bucket"
    );
    // Inside the bucket, the same tool works.
    let ok = host
        .call(
            &toolset,
            "write_storage_path",
            json!({"path": "inside/ok.txt"}),
        )
        .await
        .result
        .unwrap();
    assert_eq!(ok["path"], "inside/ok.txt");
}
