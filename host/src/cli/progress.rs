//! The spinner shown while a large component compiles (Python and JS components take seconds).

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A spinner that stays invisible unless a compile actually starts.
pub(crate) struct CompileSpinner {
    bar: ProgressBar,
    message: String,
}

impl CompileSpinner {
    pub(crate) fn new(file_name: &str, size: usize) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let message = format!(
            "Compiling {file_name} ({:.1} MB) to native code; cached after the first time",
            size as f64 / 1_000_000.0
        );
        Self { bar, message }
    }

    /// The callback for `Sandbox::load`: starts the spinner when compiling begins.
    pub(crate) fn starter(&self) -> impl FnOnce() + Send + 'static {
        let (bar, message) = (self.bar.clone(), self.message.clone());
        move || {
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    pub(crate) fn finish(self) {
        self.bar.finish_and_clear();
    }
}
