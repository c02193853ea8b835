//! The workflow-level settings FlowForge acts on, read from the definition's
//! `settings` object: an execution time limit, a cap on concurrent executions
//! (the excess waits in a queue), and the workflow to run when an execution
//! fails. Other keys (n8n's own, say) are kept as given and ignored.

use serde_json::{Map, Value};

use super::errors::DefinitionError;
use super::id::WorkflowId;

/// The longest execution time limit accepted: 30 days.
pub const MAX_EXECUTION_TIMEOUT_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// The settings key of the execution time limit, in milliseconds.
pub const EXECUTION_TIMEOUT_MS: &str = "execution_timeout_ms";
/// The settings key of the cap on concurrently running executions.
pub const MAX_CONCURRENT_EXECUTIONS: &str = "max_concurrent_executions";
/// The settings key of the workflow that runs when an execution fails.
pub const ERROR_WORKFLOW: &str = "error_workflow";

/// What a workflow's `settings` ask of the orchestrator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkflowSettings {
    /// An execution still running this long after it was requested fails with
    /// code `execution_timeout` (time spent queued counts).
    pub execution_timeout_ms: Option<u64>,
    /// At most this many executions of the workflow run at once; later ones
    /// wait, in request order, for a slot.
    pub max_concurrent_executions: Option<u32>,
    /// A workflow to run, with the failure as its input item, when an
    /// execution of this one fails.
    pub error_workflow: Option<WorkflowId>,
}

impl WorkflowSettings {
    /// Reads and checks the known keys of `settings`; unknown keys are ignored.
    pub fn parse(settings: &Map<String, Value>) -> Result<Self, DefinitionError> {
        let invalid = |setting: &str, reason: &str| DefinitionError::InvalidSetting {
            setting: setting.to_owned(),
            reason: reason.to_owned(),
        };
        let execution_timeout_ms = match settings.get(EXECUTION_TIMEOUT_MS) {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64() {
                Some(ms) if (1..=MAX_EXECUTION_TIMEOUT_MS).contains(&ms) => Some(ms),
                _ => {
                    return Err(invalid(
                        EXECUTION_TIMEOUT_MS,
                        "must be a whole number of milliseconds from 1 to 2592000000 (30 days)",
                    ))
                }
            },
        };
        let max_concurrent_executions = match settings.get(MAX_CONCURRENT_EXECUTIONS) {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if n >= 1 => Some(n),
                _ => {
                    return Err(invalid(
                        MAX_CONCURRENT_EXECUTIONS,
                        "must be a whole number from 1 to 4294967295",
                    ))
                }
            },
        };
        let error_workflow = match settings.get(ERROR_WORKFLOW) {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_str().map(str::parse::<WorkflowId>) {
                Some(Ok(id)) => Some(id),
                _ => return Err(invalid(ERROR_WORKFLOW, "must be a workflow id (a UUID)")),
            },
        };
        Ok(Self {
            execution_timeout_ms,
            max_concurrent_executions,
            error_workflow,
        })
    }
}
