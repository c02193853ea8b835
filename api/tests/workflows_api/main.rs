//! The workflow API as a user drives it, on PostgreSQL and on the embedded store.

#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH};
use serde_json::{json, Value};
use support::{eventually, simple_workflow, Backend, TestApp};

mod health;
mod lifecycle;
mod listing;
mod refusals;
