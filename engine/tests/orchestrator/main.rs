//! The execution orchestrator on the embedded store, with a scripted node
//! executor and a manual clock: retries and their backoff, timed waits,
//! time limits, concurrency caps, and resuming after a crash. Every wait is
//! on something observable (the history, the executor's calls, the clock's
//! sleepers), never a fixed sleep.

mod admission;
mod helpers;
mod resume;
mod retries;
mod time_limits;
mod waits;
