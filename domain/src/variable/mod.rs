//! The `Variables` aggregate: a workspace's variables, the values
//! expressions read as `$vars.<name>` (a region, a channel, a base URL), one
//! stream per workspace so every change is an event and a name holds one
//! value. Variables are not secret: they are stored, exported and shown in
//! clear. Secrets belong in credentials.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DomainEvent};

/// The longest variable name.
const MAX_NAME_CHARS: usize = 64;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// The most variables a workspace may hold.
pub const MAX_VARIABLES: usize = 500;

/// One variable's value and when it was last set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Its value.
    pub value: String,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// A command to a workspace's variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableCommand {
    /// Create variable `name`, or give it a new value.
    Set {
        /// Its name: a letter or `_`, then letters, digits or `_`.
        name: String,
        /// Its value.
        value: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Remove variable `name`: `$vars.<name>` is undefined from now on.
    Delete {
        /// Its name.
        name: String,
        /// Now.
        at: DateTime<Utc>,
    },
}

/// What happened to a workspace's variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum VariableEvent {
    /// A variable was created or given a new value.
    #[serde(rename = "VariableSet")]
    Set {
        /// Its name.
        name: String,
        /// Its value.
        value: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A variable was removed.
    #[serde(rename = "VariableDeleted")]
    Deleted {
        /// Its name.
        name: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for VariableEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Set { .. } => "VariableSet",
            Self::Deleted { .. } => "VariableDeleted",
        }
    }
}

/// Why a variable command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariableError {
    /// The name cannot be written after `$vars.`.
    #[error(
        "a variable's name is 1 to 64 letters, digits or `_`, not starting with a digit: {0:?}"
    )]
    InvalidName(String),
    /// The value is too large.
    #[error("a variable's value is at most {MAX_VALUE_BYTES} bytes; this one is {0}")]
    ValueTooLarge(usize),
    /// The workspace holds as many variables as it may.
    #[error("a workspace holds at most {MAX_VARIABLES} variables")]
    TooMany,
    /// The workspace has no such variable.
    #[error("no variable {0:?} in this workspace")]
    NotFound(String),
}

/// A workspace's variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    variables: BTreeMap<String, Variable>,
}

impl Variables {
    /// Every variable, by name.
    pub fn all(&self) -> &BTreeMap<String, Variable> {
        &self.variables
    }

    /// Every variable's value, by name: what `$vars` holds.
    pub fn values(&self) -> serde_json::Map<String, serde_json::Value> {
        self.variables
            .iter()
            .map(|(name, v)| (name.clone(), serde_json::Value::String(v.value.clone())))
            .collect()
    }
}

/// Whether `name` can be a variable's name (`$vars.<name>` must parse).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && name.len() <= MAX_NAME_CHARS && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Aggregate for Variables {
    const TYPE: &'static str = "variables";
    type Command = VariableCommand;
    type Event = VariableEvent;
    type Error = VariableError;

    fn handle(&self, command: VariableCommand) -> Result<Vec<VariableEvent>, VariableError> {
        match command {
            VariableCommand::Set { name, value, at } => {
                if !valid_name(&name) {
                    return Err(VariableError::InvalidName(name));
                }
                if value.len() > MAX_VALUE_BYTES {
                    return Err(VariableError::ValueTooLarge(value.len()));
                }
                match self.variables.get(&name) {
                    Some(current) if current.value == value => Ok(Vec::new()),
                    Some(_) => Ok(vec![VariableEvent::Set { name, value, at }]),
                    None if self.variables.len() >= MAX_VARIABLES => Err(VariableError::TooMany),
                    None => Ok(vec![VariableEvent::Set { name, value, at }]),
                }
            }
            VariableCommand::Delete { name, at } => {
                if !self.variables.contains_key(&name) {
                    return Err(VariableError::NotFound(name));
                }
                Ok(vec![VariableEvent::Deleted { name, at }])
            }
        }
    }

    fn apply(&mut self, event: VariableEvent) {
        match event {
            VariableEvent::Set { name, value, at } => {
                self.variables.insert(
                    name,
                    Variable {
                        value,
                        updated_at: at,
                    },
                );
            }
            VariableEvent::Deleted { name, .. } => {
                self.variables.remove(&name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_are_what_an_expression_can_write_after_vars() {
        for good in ["region", "_private", "API_BASE", "x1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "1x", "a-b", "a.b", "a b", "é", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
