//! The built-in node types, one module each; [`crate::NodeRegistry::new`]
//! gathers them.

pub(crate) mod branch;
pub(crate) mod code;
pub(crate) mod execute_workflow;
pub(crate) mod http_request;
pub(crate) mod merge;
pub(crate) mod nats_publish;
pub(crate) mod passthrough;
pub(crate) mod respond_to_webhook;
pub(crate) mod set;
pub(crate) mod stop_and_error;
pub(crate) mod wait;
