//! `corral:tool/storage`: objects in the one bucket granted to a tool assignment.
//!
//! A bucket is a directory under the data dir opened with cap-std, so every operation is
//! resolved beneath it by the OS-level capability, not by string checks alone: `..`, absolute
//! paths and symlinks cannot leave it. Paths are still validated first, so a bad path gets a
//! clear `invalid-path` instead of an OS error. Content types live in a sidecar tree next to
//! the objects, which guests cannot name.

use crate::bindings::corral::tool::storage::{self as wit, ObjectInfo, StorageError};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use wasmtime::component::{HasData, Linker};

/// Default cap on one object.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 10 * 1024 * 1024;
/// Default cap on a whole bucket.
pub const DEFAULT_MAX_BUCKET_BYTES: u64 = 256 * 1024 * 1024;
/// Longest object path accepted.
pub const MAX_PATH_BYTES: usize = 1024;
/// Most objects a listing walks before asking for a narrower prefix.
pub const MAX_LISTED_OBJECTS: usize = 10_000;

/// The operator's storage grant for one assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageGrant {
    /// Bucket name: `[a-z0-9][a-z0-9_-]{0,62}`.
    pub bucket: String,
    /// Largest object a write may create.
    #[serde(default = "default_max_object_bytes")]
    pub max_object_bytes: u64,
    /// Largest total size of the bucket after a write.
    #[serde(default = "default_max_bucket_bytes")]
    pub max_bucket_bytes: u64,
}

fn default_max_object_bytes() -> u64 {
    DEFAULT_MAX_OBJECT_BYTES
}

fn default_max_bucket_bytes() -> u64 {
    DEFAULT_MAX_BUCKET_BYTES
}

/// Why a storage grant is malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid bucket name {0:?}: use 1-63 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"
)]
pub struct InvalidBucketName(pub String);

impl StorageGrant {
    /// A grant of `bucket` with the default size caps.
    pub fn new(bucket: impl Into<String>) -> Result<Self, InvalidBucketName> {
        let grant = Self {
            bucket: bucket.into(),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            max_bucket_bytes: DEFAULT_MAX_BUCKET_BYTES,
        };
        grant.validate()?;
        Ok(grant)
    }

    /// Checks the bucket name, which becomes a directory name.
    pub fn validate(&self) -> Result<(), InvalidBucketName> {
        let name = self.bucket.as_bytes();
        let valid = !name.is_empty()
            && name.len() <= 63
            && (name[0].is_ascii_lowercase() || name[0].is_ascii_digit())
            && name
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
        if valid {
            Ok(())
        } else {
            Err(InvalidBucketName(self.bucket.clone()))
        }
    }
}

/// Per-call storage state: the grant, and the bucket once a call first touches it.
#[derive(Debug, Default)]
pub struct StorageCtx {
    grant: Option<(PathBuf, StorageGrant)>,
    opened: Option<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    objects: Dir,
    types: Dir,
}

impl StorageCtx {
    /// No bucket granted: every operation is `denied`.
    pub fn denied() -> Self {
        Self::default()
    }

    /// Grants `grant`'s bucket, stored under `buckets_dir/<bucket>/`. Nothing is opened until
    /// the guest uses storage, so tools that never do pay nothing.
    pub fn granted(buckets_dir: &Path, grant: StorageGrant) -> Self {
        Self {
            grant: Some((buckets_dir.join(&grant.bucket), grant)),
            opened: None,
        }
    }

    fn bucket(&mut self) -> Result<(&Bucket, &StorageGrant), StorageError> {
        let Some((root, grant)) = &self.grant else {
            return Err(StorageError::Denied(
                "no storage bucket is granted to this tool assignment".into(),
            ));
        };
        if self.opened.is_none() {
            let open = |sub: &str| -> Result<Dir, StorageError> {
                let path = root.join(sub);
                std::fs::create_dir_all(&path).map_err(|e| failed("opening the bucket", &e))?;
                Dir::open_ambient_dir(&path, ambient_authority())
                    .map_err(|e| failed("opening the bucket", &e))
            };
            self.opened = Some(Bucket {
                objects: open("objects")?,
                types: open("types")?,
            });
        }
        Ok((self.opened.as_ref().expect("opened above"), grant))
    }

    /// Reads a whole object.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, StorageError> {
        let rel = object_path(path)?;
        let (bucket, _) = self.bucket()?;
        bucket.objects.read(&rel).map_err(|e| io_error(path, &e))
    }

    /// Creates or replaces an object.
    pub fn write(
        &mut self,
        path: &str,
        data: &[u8],
        content_type: Option<String>,
    ) -> Result<ObjectInfo, StorageError> {
        let rel = object_path(path)?;
        let (bucket, grant) = self.bucket()?;
        let size = data.len() as u64;
        if size > grant.max_object_bytes {
            return Err(StorageError::TooLarge(format!(
                "{size} bytes is more than this bucket's object cap of {} bytes",
                grant.max_object_bytes
            )));
        }
        let replaced = bucket.objects.metadata(&rel).map(|m| m.len()).unwrap_or(0);
        let total = bucket_size(&bucket.objects)?;
        if total - replaced.min(total) + size > grant.max_bucket_bytes {
            return Err(StorageError::TooLarge(format!(
                "the write would bring bucket '{}' over its cap of {} bytes",
                grant.bucket, grant.max_bucket_bytes
            )));
        }
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            bucket
                .objects
                .create_dir_all(parent)
                .map_err(|e| io_error(path, &e))?;
            bucket
                .types
                .create_dir_all(parent)
                .map_err(|e| io_error(path, &e))?;
        }
        bucket
            .objects
            .write(&rel, data)
            .map_err(|e| io_error(path, &e))?;
        match &content_type {
            Some(ct) => bucket
                .types
                .write(&rel, ct.as_bytes())
                .map_err(|e| io_error(path, &e))?,
            None => match bucket.types.remove_file(&rel) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(io_error(path, &e)),
                _ => {}
            },
        }
        Ok(ObjectInfo {
            path: path.to_string(),
            size,
            content_type: content_type.or_else(|| guess_type(path)),
        })
    }

    /// Lists objects whose path starts with `prefix`.
    pub fn list(&mut self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        if prefix.contains('\0') {
            return Err(StorageError::InvalidPath(
                "the prefix contains a NUL byte".into(),
            ));
        }
        let (bucket, _) = self.bucket()?;
        let mut found = Vec::new();
        walk(&bucket.objects, PathBuf::new(), &mut |rel, size| {
            let path = rel.to_string_lossy().replace('\\', "/");
            if path.starts_with(prefix) {
                found.push((path, size));
            }
        })?;
        found.sort();
        Ok(found
            .into_iter()
            .map(|(path, size)| {
                let content_type = bucket
                    .types
                    .read_to_string(&path)
                    .ok()
                    .or_else(|| guess_type(&path));
                ObjectInfo {
                    path,
                    size,
                    content_type,
                }
            })
            .collect())
    }

    /// Deletes an object.
    pub fn delete(&mut self, path: &str) -> Result<(), StorageError> {
        let rel = object_path(path)?;
        let (bucket, _) = self.bucket()?;
        bucket
            .objects
            .remove_file(&rel)
            .map_err(|e| io_error(path, &e))?;
        let _ = bucket.types.remove_file(&rel);
        Ok(())
    }
}

/// Validates a guest-supplied object path and turns it into a relative path.
fn object_path(path: &str) -> Result<PathBuf, StorageError> {
    let invalid = |why: &str| Err(StorageError::InvalidPath(format!("{path:?}: {why}")));
    if path.is_empty() {
        return invalid("the path is empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return invalid("the path is longer than 1024 bytes");
    }
    if path.contains('\0') {
        return invalid("the path contains a NUL byte");
    }
    if path.starts_with('/') {
        return invalid("absolute paths are not allowed; paths are relative to the bucket");
    }
    if path.contains('\\') {
        return invalid("use '/' to separate folders");
    }
    for part in path.split('/') {
        match part {
            "" => return invalid("the path has an empty segment"),
            "." | ".." => return invalid("'.' and '..' segments are not allowed"),
            _ if part.len() > 255 => return invalid("a segment is longer than 255 bytes"),
            _ => {}
        }
    }
    Ok(PathBuf::from(path))
}

fn walk(dir: &Dir, rel: PathBuf, visit: &mut dyn FnMut(&Path, u64)) -> Result<usize, StorageError> {
    fn go(
        dir: &Dir,
        rel: &Path,
        visit: &mut dyn FnMut(&Path, u64),
        seen: &mut usize,
    ) -> Result<(), StorageError> {
        let entries = dir
            .entries()
            .map_err(|e| failed("listing the bucket", &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| failed("listing the bucket", &e))?;
            let kind = entry
                .file_type()
                .map_err(|e| failed("listing the bucket", &e))?;
            let path = rel.join(entry.file_name());
            // Symlinks are never followed or listed: only the host creates entries here.
            if kind.is_dir() {
                let sub = entry
                    .open_dir()
                    .map_err(|e| failed("listing the bucket", &e))?;
                go(&sub, &path, visit, seen)?;
            } else if kind.is_file() {
                *seen += 1;
                if *seen > MAX_LISTED_OBJECTS {
                    return Err(StorageError::Failed(format!(
                        "the bucket holds more than {MAX_LISTED_OBJECTS} objects; use a narrower prefix"
                    )));
                }
                let size = entry
                    .metadata()
                    .map_err(|e| failed("listing the bucket", &e))?
                    .len();
                visit(&path, size);
            }
        }
        Ok(())
    }
    let mut seen = 0;
    go(dir, &rel, visit, &mut seen)?;
    Ok(seen)
}

fn bucket_size(objects: &Dir) -> Result<u64, StorageError> {
    let mut total = 0;
    walk(objects, PathBuf::new(), &mut |_, size| total += size)?;
    Ok(total)
}

fn guess_type(path: &str) -> Option<String> {
    mime_guess::from_path(path).first_raw().map(str::to_string)
}

fn io_error(path: &str, error: &std::io::Error) -> StorageError {
    match error.kind() {
        ErrorKind::NotFound => StorageError::NotFound(format!("no object at {path:?}")),
        // cap-std reports an attempt to leave the directory as PermissionDenied.
        ErrorKind::PermissionDenied => {
            StorageError::InvalidPath(format!("{path:?} leaves the bucket"))
        }
        ErrorKind::IsADirectory => {
            StorageError::InvalidPath(format!("{path:?} is a folder, not an object"))
        }
        _ => failed(path, error),
    }
}

fn failed(what: &str, error: &std::io::Error) -> StorageError {
    tracing::warn!(%error, what, "storage capability I/O error");
    StorageError::Failed(format!("{what}: {}", error.kind()))
}

/// Borrowed view the generated `Host` trait is implemented for.
pub struct StorageView<'a> {
    ctx: &'a mut StorageCtx,
}

impl<'a> StorageView<'a> {
    /// A view over `ctx`.
    pub fn new(ctx: &'a mut StorageCtx) -> Self {
        Self { ctx }
    }
}

impl wit::Host for StorageView<'_> {
    fn read(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, StorageError>> {
        Ok(self.ctx.read(&path))
    }

    fn write(
        &mut self,
        path: String,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<ObjectInfo, StorageError>> {
        Ok(self.ctx.write(&path, &data, content_type))
    }

    fn list_objects(
        &mut self,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<ObjectInfo>, StorageError>> {
        Ok(self.ctx.list(&prefix))
    }

    fn delete(&mut self, path: String) -> wasmtime::Result<Result<(), StorageError>> {
        Ok(self.ctx.delete(&path))
    }
}

struct HasStorage;

impl HasData for HasStorage {
    type Data<'a> = StorageView<'a>;
}

/// Adds `corral:tool/storage` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> StorageView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasStorage>(linker, view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(dir: &Path) -> StorageCtx {
        StorageCtx::granted(dir, StorageGrant::new("b1").unwrap())
    }

    #[test]
    fn denied_without_a_grant() {
        assert!(matches!(
            StorageCtx::denied().read("a"),
            Err(StorageError::Denied(_))
        ));
    }

    #[test]
    fn write_read_list_delete_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ctx = bucket(tmp.path());
        let info = ctx.write("notes/a.txt", b"hello", None).unwrap();
        assert_eq!(info.content_type.as_deref(), Some("text/plain"));
        ctx.write("data.bin", &[0, 1, 2], Some("application/x-custom".into()))
            .unwrap();
        assert_eq!(ctx.read("notes/a.txt").unwrap(), b"hello");
        let all = ctx.list("").unwrap();
        assert_eq!(
            all.iter().map(|o| o.path.as_str()).collect::<Vec<_>>(),
            ["data.bin", "notes/a.txt"]
        );
        assert_eq!(all[0].content_type.as_deref(), Some("application/x-custom"));
        assert_eq!(ctx.list("notes/").unwrap().len(), 1);
        ctx.delete("notes/a.txt").unwrap();
        assert!(matches!(
            ctx.read("notes/a.txt"),
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            ctx.delete("notes/a.txt"),
            Err(StorageError::NotFound(_))
        ));
    }

    #[test]
    fn escapes_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("secret.txt"), "top secret").unwrap();
        let mut ctx = bucket(tmp.path());
        for path in [
            "../secret.txt",
            "../../secret.txt",
            "/etc/passwd",
            "a/../../secret.txt",
            "a\0b",
            "",
            "a//b",
            "./a",
            "a\\..\\b",
        ] {
            assert!(
                matches!(ctx.read(path), Err(StorageError::InvalidPath(_))),
                "{path:?}"
            );
            assert!(
                matches!(
                    ctx.write(path, b"x", None),
                    Err(StorageError::InvalidPath(_))
                ),
                "{path:?}"
            );
        }
    }

    #[test]
    fn a_symlink_planted_in_the_bucket_cannot_lead_out() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("secret.txt"), "top secret").unwrap();
        let mut ctx = bucket(tmp.path());
        ctx.write("x", b"1", None).unwrap();
        std::os::unix::fs::symlink(
            tmp.path().join("secret.txt"),
            tmp.path().join("b1/objects/link"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("b1/objects/etc")).unwrap();
        assert!(ctx.read("link").is_err());
        assert!(ctx.read("etc/hostname").is_err());
        assert!(ctx.write("etc/evil", b"x", None).is_err());
        assert_eq!(ctx.list("").unwrap().len(), 1, "symlinks are not listed");
    }

    #[test]
    fn size_caps_hold() {
        let tmp = tempfile::tempdir().unwrap();
        let grant = StorageGrant {
            bucket: "small".into(),
            max_object_bytes: 10,
            max_bucket_bytes: 15,
        };
        let mut ctx = StorageCtx::granted(tmp.path(), grant);
        assert!(matches!(
            ctx.write("a", &[0; 11], None),
            Err(StorageError::TooLarge(_))
        ));
        ctx.write("a", &[0; 10], None).unwrap();
        assert!(matches!(
            ctx.write("b", &[0; 6], None),
            Err(StorageError::TooLarge(_))
        ));
        ctx.write("a", &[0; 9], None).unwrap(); // replacing counts the old size out
        ctx.write("b", &[0; 6], None).unwrap();
    }

    #[test]
    fn bucket_names_are_validated() {
        for bad in ["", "UP", "../x", "a/b", "-a", &"x".repeat(64)] {
            assert!(StorageGrant::new(bad).is_err(), "{bad:?}");
        }
        assert!(StorageGrant::new("team-1_docs").is_ok());
    }
}
