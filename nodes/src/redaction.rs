//! Secrets out of what a node run leaves behind: every secret value a run
//! opened (and the forms it was sent in, such as a basic-auth header) is
//! replaced by `[redacted]` wherever it appears in the run's output items
//! and error, before the orchestrator records anything. Exact matches only,
//! so values shorter than [`MIN_REDACTED_CHARS`] are left alone (replacing
//! every `a` would ruin the output and hide nothing).

use flowforge_domain::execution::{Item, NodeError};
use serde_json::Value;

use crate::NodeOutcome;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";
/// The shortest value that is redacted.
pub const MIN_REDACTED_CHARS: usize = 4;

/// `outcome` with every occurrence of each of `secrets` replaced.
pub fn redact(outcome: NodeOutcome, secrets: &[String]) -> NodeOutcome {
    let mut secrets: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| s.chars().count() >= MIN_REDACTED_CHARS)
        .collect();
    if secrets.is_empty() {
        return outcome;
    }
    // Longest first, so a secret inside another is not replaced half-way.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    match outcome {
        NodeOutcome::Succeeded(outputs) => NodeOutcome::Succeeded(
            outputs
                .into_iter()
                .map(|items| {
                    items
                        .into_iter()
                        .map(|item| redact_item(item, &secrets))
                        .collect()
                })
                .collect(),
        ),
        NodeOutcome::Failed(error) => NodeOutcome::Failed(NodeError {
            message: redact_text(error.message, &secrets),
            code: error.code,
            details: redact_value(error.details, &secrets),
        }),
        waiting @ NodeOutcome::Wait { .. } => waiting,
    }
}

fn redact_item(item: Item, secrets: &[&str]) -> Item {
    item.into_iter()
        .map(|(key, value)| (redact_text(key, secrets), redact_value(value, secrets)))
        .collect()
}

fn redact_value(value: Value, secrets: &[&str]) -> Value {
    match value {
        Value::String(text) => Value::String(redact_text(text, secrets)),
        Value::Array(values) => Value::Array(
            values
                .into_iter()
                .map(|v| redact_value(v, secrets))
                .collect(),
        ),
        Value::Object(object) => Value::Object(redact_item(object, secrets)),
        other => other,
    }
}

fn redact_text(text: String, secrets: &[&str]) -> String {
    if !secrets.iter().any(|s| text.contains(s)) {
        return text;
    }
    secrets
        .iter()
        .fold(text, |text, secret| text.replace(secret, REDACTED))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_replaced_in_items_and_errors_and_short_values_are_not() {
        let secrets = vec![
            "s3cret-token".to_owned(),
            "s3cret".to_owned(),
            "ab".to_owned(),
        ];
        let item = json!({"echo": "Bearer s3cret-token", "nested": [{"k": "x s3cret y"}],
                          "s3cret": "ab cd"});
        let outcome = NodeOutcome::Succeeded(vec![vec![item.as_object().cloned().expect("item")]]);
        let NodeOutcome::Succeeded(outputs) = redact(outcome, &secrets) else {
            panic!("still a success");
        };
        assert_eq!(
            Value::Object(outputs[0][0].clone()),
            json!({"echo": "Bearer [redacted]", "nested": [{"k": "x [redacted] y"}],
                   "[redacted]": "ab cd"})
        );
        let failed = NodeOutcome::Failed(
            NodeError::new("GET http://h/?key=s3cret failed")
                .with_details(json!({"body": "s3cret-token"})),
        );
        let NodeOutcome::Failed(error) = redact(failed, &secrets) else {
            panic!("still a failure");
        };
        assert_eq!(error.message, "GET http://h/?key=[redacted] failed");
        assert_eq!(error.details, json!({"body": "[redacted]"}));
    }
}
