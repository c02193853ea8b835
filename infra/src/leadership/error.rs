//! Why a leadership term ended early: which part failed (the event store, a
//! read model, the lease, a checkpoint, the bus), with the underlying error
//! kept as its source, so the log names the real cause whatever the transport.

use std::{error::Error, fmt};

use crate::{
    bus::SubscriptionError,
    event_store::{EventStoreError, Position},
    read_model::ReadModelError,
};

/// Why a leader's term (or its standing by) was interrupted.
#[derive(Debug, thiserror::Error)]
pub enum TermError {
    /// Reading or appending to the event store failed.
    #[error("the event store failed")]
    Store(#[from] EventStoreError),
    /// A read model could not be read or written.
    #[error("a read model failed")]
    ReadModel(#[from] ReadModelError),
    /// The database could not be asked for the lease.
    #[error("cannot ask for the lease {name}")]
    Lease {
        /// The lease asked for.
        name: String,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
    /// A checkpoint could not be read or saved.
    #[error("checkpoint {name} could not be read or saved")]
    Checkpoint {
        /// The checkpoint's name.
        name: String,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
    /// The bus failed to deliver or to take a publish.
    #[error("the bus failed")]
    Subscription(#[source] SubscriptionError),
    /// An event in the log does not decode into its aggregate's events.
    #[error("the event at position {position} could not be decoded")]
    Decode {
        /// Where the event sits in the log.
        position: Position,
        /// What the codec said.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
}

impl TermError {
    /// A checkpoint named `name` could not be read or saved.
    pub fn checkpoint(name: &str, source: sqlx::Error) -> Self {
        Self::Checkpoint {
            name: name.to_owned(),
            source,
        }
    }

    /// The error and its causes on one line, for logs.
    pub fn chain(&self) -> ErrorChain<'_> {
        ErrorChain(self)
    }
}

/// A bus that read from the store failed because the store did: that is what
/// the term reports.
impl From<SubscriptionError> for TermError {
    fn from(error: SubscriptionError) -> Self {
        match error {
            SubscriptionError::Store(error) => Self::Store(error),
            other => Self::Subscription(other),
        }
    }
}

/// Displays an error followed by each of its sources ("a: b: c"), skipping a
/// source whose text its parent already includes.
pub struct ErrorChain<'a>(&'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut next = self.0.source();
        while let Some(source) = next {
            let text = source.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown = text;
            }
            next = source.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_error_names_what_failed_and_why() {
        let error = TermError::from(ReadModelError::Corrupt("status is 'lost'".to_owned()));
        assert_eq!(
            error.chain().to_string(),
            "a read model failed: corrupt read model row: status is 'lost'"
        );
    }

    #[test]
    fn a_store_failure_under_the_bus_is_the_store_s() {
        let error = TermError::from(SubscriptionError::Store(EventStoreError::EmptyAppend));
        assert!(matches!(error, TermError::Store(_)), "{error:?}");
        assert_eq!(
            error.chain().to_string(),
            "the event store failed: an append needs at least one event"
        );
    }

    #[test]
    fn a_source_already_in_its_parent_s_text_is_not_repeated() {
        let source = sqlx::Error::Protocol("connection reset".to_owned());
        let error = TermError::from(ReadModelError::Database(source));
        assert_eq!(
            error.chain().to_string(),
            "a read model failed: read model database error: encountered unexpected or \
             invalid data: connection reset"
        );
    }
}
