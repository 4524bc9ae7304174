//! The WIT contract (`wit/`), embedded in the binary.
//!
//! `corral tool new` writes it into every new tool project and `corral tool build` hands it to
//! componentize-py / componentize-js, so authors never need a copy of this repository.

/// The files as `(relative path, contents)`, in the layout toolchains expect.
pub const FILES: &[(&str, &str)] = &[
    ("world.wit", include_str!("../../wit/world.wit")),
    ("types.wit", include_str!("../../wit/types.wit")),
    ("log.wit", include_str!("../../wit/log.wit")),
    ("config.wit", include_str!("../../wit/config.wit")),
    ("storage.wit", include_str!("../../wit/storage.wit")),
    ("database.wit", include_str!("../../wit/database.wit")),
    ("deps/cli.wit", include_str!("../../wit/deps/cli.wit")),
    ("deps/clocks.wit", include_str!("../../wit/deps/clocks.wit")),
    (
        "deps/filesystem.wit",
        include_str!("../../wit/deps/filesystem.wit"),
    ),
    ("deps/http.wit", include_str!("../../wit/deps/http.wit")),
    ("deps/io.wit", include_str!("../../wit/deps/io.wit")),
    ("deps/random.wit", include_str!("../../wit/deps/random.wit")),
    (
        "deps/sockets.wit",
        include_str!("../../wit/deps/sockets.wit"),
    ),
];

/// The world every tool component targets.
pub const WORLD: &str = "tool-plugin";

/// Writes the contract into `dir` (created if needed).
pub fn write_to(dir: &std::path::Path) -> std::io::Result<()> {
    for (path, contents) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, contents)?;
    }
    Ok(())
}
