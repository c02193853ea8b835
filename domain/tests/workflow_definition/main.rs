//! Tests of the workflow definition: the n8n-shaped JSON it accepts, the validated
//! form's graph queries and serialisation, and one test per validation error
//! checking that the message names the node at fault. One module per concept;
//! `support` holds the parsing shorthands and the chain workflow.

mod accepted;
mod compensations;
mod large_graphs;
mod limits;
mod properties;
mod refused;
mod settings;
mod support;
