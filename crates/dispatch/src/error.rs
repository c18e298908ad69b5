//! Errors returned when a configuration object is refused.
//!
//! Every message names what was wrong and says how to fix it, because it reaches an operator
//! verbatim through the API and the CLI.

use std::fmt;

use serde::Serialize;

/// Why a trunk, rule or policy was refused when written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ConfigError {
    /// The object is malformed on its own (`field` names the offending field).
    Invalid { field: String, message: String },
    /// The object would admit the same calls as an existing one.
    Conflict {
        message: String,
        existing_id: String,
        existing_name: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The operator-facing message.
    pub fn message(&self) -> &str {
        match self {
            ConfigError::Invalid { message, .. } | ConfigError::Conflict { message, .. } => message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ConfigError {}
