//! Code: the `js` parameter runs over all items (`items`, `$input`, …) and
//! returns the output items.

use crate::NodeOutcome;
use async_trait::async_trait;
use flowforge_domain::execution::NodeError;

use crate::registry::{string_parameter, NodeBehaviour, NodeRun};

/// The Code node.
pub struct Code;

#[async_trait]
impl NodeBehaviour for Code {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let parameters = run.parameters();
        let Some(js) = string_parameter(&parameters, "js") else {
            return NodeOutcome::Failed(NodeError::new("code needs `js`").with_code("parameters"));
        };
        match run.run_code(js.to_owned()).await {
            Ok(items) => NodeOutcome::Succeeded(vec![items]),
            Err(error) => NodeOutcome::Failed(error),
        }
    }
}
