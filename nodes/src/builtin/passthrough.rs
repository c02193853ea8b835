//! Triggers and No-Op: the input items go out unchanged on output 0.

use crate::NodeOutcome;
use async_trait::async_trait;

use crate::{NodeBehaviour, NodeRun};

/// Passes its input through.
pub struct PassThrough;

#[async_trait]
impl NodeBehaviour for PassThrough {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        NodeOutcome::Succeeded(vec![run.items()])
    }
}
