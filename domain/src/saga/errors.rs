//! What a saga refuses in its current state.

use super::aggregate::SagaStatus;

/// A command the [`Saga`](super::Saga) aggregate refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SagaError {
    /// Any command but `RecordStep` on a saga with no step.
    #[error("saga not found")]
    NotFound,
    /// The step is recorded already (a redelivery).
    #[error("step {step:?} is recorded already")]
    StepAlreadyRecorded {
        /// The step.
        step: String,
    },
    /// The command does not fit the saga's status.
    #[error("the saga is {status}; {what}")]
    WrongStatus {
        /// The saga's status.
        status: SagaStatus,
        /// What was refused, in words.
        what: &'static str,
    },
    /// The step is not the next one to undo.
    #[error("step {step:?} is not the next step to undo ({next:?} is)")]
    NotNextStep {
        /// The step named.
        step: String,
        /// The next step to undo, if any.
        next: Option<String>,
    },
    /// An attempt number out of sequence (a redelivery of an older outcome).
    #[error("attempt {attempt} of step {step:?} is out of sequence (expected {expected})")]
    AttemptOutOfSequence {
        /// The step.
        step: String,
        /// The attempt offered.
        attempt: u32,
        /// The attempt expected.
        expected: u32,
    },
}
