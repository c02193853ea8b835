//! Tests of the execution planner: which nodes run next and with which items
//! (chains, fan-out, branches not taken, merges), retries and their backoff,
//! waits, failures with and without `continue_on_fail`, reused outputs, and a
//! property test driving random workflows to the end. One module per concept;
//! `support` holds the `Run` that drives an execution as the orchestrator would.

mod failures;
mod properties;
mod replay;
mod retry_delays;
mod reuse_and_waits;
mod routing;
mod support;
