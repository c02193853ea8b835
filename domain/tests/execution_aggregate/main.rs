//! Given/when/then tests of the `Execution` aggregate: one per accepted and per
//! refused command, through the generic `AggregateTester`, plus the state the
//! events build and the events' stored shape. One module per group of commands,
//! as the aggregate's decisions are grouped; `support` holds the test workflow,
//! the events and commands the tests are written in.

mod endings;
mod node_attempts;
mod request;
mod retries;
mod state;
mod stored_shape;
mod support;
mod waits;
