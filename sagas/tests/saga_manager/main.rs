//! The saga manager with the orchestrator on the embedded store and a scripted
//! node executor: compensations run newest step first (parallel branches in
//! the order they completed), and a failing compensation is retried, then
//! parks the saga for an operator, as its retry policy says.

mod compensation_order;
mod failing_compensations;
mod helpers;
