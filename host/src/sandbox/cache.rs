//! The on-disk cache of compiled components.
//!
//! Compiling a componentize-py or componentize-js component takes seconds, so nothing is ever
//! compiled twice: the native code is stored under a key made of the component's SHA-256 and
//! the engine's compatibility hash (wasmtime version + every setting that shapes the code),
//! and loaded back with `Component::deserialize_file`, which maps the file instead of reading it.
//! A lock file per key makes parallel processes (e.g. test binaries) compile a component once.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Why a component could not be compiled or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache directory or a cache file could not be used.
    #[error("compile cache at {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// wasmtime refused the bytes: not a valid component, or an unsupported feature.
    #[error("not a loadable WebAssembly component: {0:#}")]
    Compile(wasmtime::Error),
}

/// Where compiled components live, and how a component's cache key is made.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_tag: String,
}

/// What [`CompileCache::load`] had to do, so callers can report it (e.g. a CLI progress line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a previously compiled artifact.
    Hit,
    /// Compiled the component and stored the result.
    Compiled,
}

impl CompileCache {
    /// A cache in `dir` (created on first store) for components compiled by `engine`.
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        // The compatibility hash covers the wasmtime version and every code-shaping setting.
        // `DefaultHasher` may change between Rust releases: that only costs a recompile.
        let engine_tag = format!("engine-{:016x}", hasher.finish());
        Self {
            dir: dir.into(),
            engine_tag,
        }
    }

    /// The directory holding the compiled artifacts.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The content hash of a component, hex-encoded; also its identity elsewhere (uploads).
    pub fn content_hash(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn artifact_path(&self, content_hash: &str) -> PathBuf {
        self.dir
            .join(format!("{content_hash}-{}.cwasm", self.engine_tag))
    }

    /// True when `bytes` has already been compiled for this engine.
    pub fn contains(&self, bytes: &[u8]) -> bool {
        self.artifact_path(&Self::content_hash(bytes)).is_file()
    }

    /// Loads the compiled form of `bytes`, compiling and storing it first when needed.
    /// `before_compile` runs only when a compile is about to start (it may take seconds).
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        before_compile: impl FnOnce(),
    ) -> Result<(Component, CacheOutcome), CacheError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let artifact = self.artifact_path(&Self::content_hash(bytes));
        if let Some(component) = self.try_deserialize(engine, &artifact) {
            return Ok((component, CacheOutcome::Hit));
        }

        // Serialise compiles of the same component across processes; whoever waited re-checks.
        let lock_path = artifact.with_extension("lock");
        let lock_file = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
        let mut lock = fd_lock::RwLock::new(lock_file);
        let _guard = lock.write().map_err(io(&lock_path))?;
        if let Some(component) = self.try_deserialize(engine, &artifact) {
            return Ok((component, CacheOutcome::Hit));
        }

        before_compile();
        let compiled = engine
            .precompile_component(bytes)
            .map_err(CacheError::Compile)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io(&self.dir))?;
        tmp.write_all(&compiled).map_err(io(tmp.path()))?;
        tmp.persist(&artifact).map_err(|e| CacheError::Io {
            path: artifact.clone(),
            source: e.error,
        })?;
        let component = self
            .try_deserialize(engine, &artifact)
            .ok_or_else(|| CacheError::Io {
                path: artifact.clone(),
                source: std::io::Error::other("freshly written artifact did not load"),
            })?;
        Ok((component, CacheOutcome::Compiled))
    }

    /// Loads an artifact if it exists and this engine accepts it; a stale or corrupt file is
    /// removed so the caller recompiles instead of failing forever.
    fn try_deserialize(&self, engine: &Engine, artifact: &Path) -> Option<Component> {
        if !artifact.is_file() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output. Only this type
        // writes into the cache directory, which lives in the operator's data dir, and files are
        // published by an atomic rename, so a reader never sees a partial artifact.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, artifact) };
        match loaded {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %artifact.display(), %error, "discarding unusable compiled component");
                let _ = std::fs::remove_file(artifact);
                None
            }
        }
    }
}
