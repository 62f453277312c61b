//! Errors that end a command, each carrying the exit code the contract gives it.
//!
//! Scripts branch on the exit code, people read the message: so every error says
//! what was wrong (the file, the user, the value) and, where there is one, what to
//! do about it.

use std::fmt;

/// The exit codes of `CONTRACT.md`, the only ones mqreg uses besides 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Could not be done: I/O, an unparsable state file, a lock wait that timed out.
    Failure = 1,
    /// Bad arguments or values.
    Usage = 2,
    /// A named user, role or pending request does not exist.
    NotFound = 3,
    /// Already exists, or a conflicted request without `--force`.
    Conflict = 4,
}

#[derive(Debug)]
pub struct Error {
    pub code: ExitCode,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Failure, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Conflict, message)
    }
    fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// An error with its causes, each once: libraries often say only "error
/// connecting to server" and leave "Connection refused" to the source.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
