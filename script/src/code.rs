//! The Code node: user JavaScript over all of a node's input items.
//!
//! The script is the body of an async function with `items` (`[{json: {...}}]`,
//! as in n8n) in scope, plus the same `$` variables as expressions, with
//! `$input` standing for the Code node's own input. It may `await`; once its
//! promise settles it must have returned a list of items: `{json: {...}}`
//! objects, or plain objects that are taken as the `json`.

use serde_json::Value;

use crate::context::Item;
use crate::ScriptError;

/// Turns what a Code node returned (JSON text, `None` for `undefined`) into items.
pub(crate) fn items_from_result(result: Option<&str>) -> Result<Vec<Item>, ScriptError> {
    let Some(text) = result else {
        return Err(invalid(
            "it returned nothing; end the code with `return items` or `return [{json: {...}}]`",
        ));
    };
    let value: Value = serde_json::from_str(text).map_err(|e| ScriptError::Engine {
        message: format!("Code node result is not JSON: {e}"),
    })?;
    let list = match value {
        Value::Array(list) => list,
        // n8n accepts a single item and wraps it.
        Value::Object(object) => vec![Value::Object(object)],
        other => {
            return Err(invalid(format!(
                "it returned {}; return an array of items like [{{json: {{...}}}}]",
                kind_of(&other)
            )))
        }
    };
    list.into_iter()
        .enumerate()
        .map(|(index, entry)| item_from_entry(index, entry))
        .collect()
}

fn item_from_entry(index: usize, entry: Value) -> Result<Item, ScriptError> {
    let Value::Object(mut object) = entry else {
        return Err(invalid(format!(
            "item {index} is {}; each item must be an object like {{json: {{...}}}}",
            kind_of(&entry)
        )));
    };
    match object.remove("json") {
        Some(Value::Object(json)) => Ok(json),
        Some(other) => Err(invalid(format!(
            "item {index} has a `json` that is {}; `json` must be an object",
            kind_of(&other)
        ))),
        None => Ok(object),
    }
}

fn invalid(message: impl Into<String>) -> ScriptError {
    ScriptError::InvalidCodeResult {
        message: message.into(),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
