//! Parameter strings with `{{ … }}` expressions, and walking a parameter tree.
//!
//! A string that is exactly one `{{ expr }}` becomes the JSON value of `expr`
//! (a number stays a number, an object stays an object). A string mixing text
//! and expressions becomes a string with each value interpolated: strings as
//! they are, dates as ISO 8601, objects and arrays as JSON, `null` and
//! `undefined` as nothing. A string without a complete `{{ … }}` is returned
//! as it is and never reaches JavaScript.

use serde_json::{Map, Value};

use crate::ScriptError;

/// A piece of a parameter string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    /// Literal text.
    Text(&'a str),
    /// The JavaScript between `{{` and `}}`, trimmed.
    Expression(&'a str),
}

/// Splits `input` into text and expressions. `}}` closes an expression only
/// outside string literals and balanced braces, so `{{ {a: {b: 1}} }}` and
/// `{{ "}}" }}` work; a `{{` without its `}}` is plain text.
pub(crate) fn parse_template(input: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut rest = input;
    while let Some(open) = rest.find("{{") {
        let body = &rest[open + 2..];
        let Some(close) = find_close(body) else {
            break;
        };
        if open > 0 {
            segments.push(Segment::Text(&rest[..open]));
        }
        segments.push(Segment::Expression(body[..close].trim()));
        rest = &body[close + 2..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest));
    }
    segments
}

/// Byte offset of the `}}` that ends the expression starting at `body`.
fn find_close(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'\'' | b'"' | b'`' => quote = Some(b),
                b'{' => depth += 1,
                b'}' if depth == 0 && bytes.get(i + 1) == Some(&b'}') => return Some(i),
                b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Whether `value` holds any string with a `{{ … }}` expression.
pub(crate) fn has_expressions(value: &Value) -> bool {
    match value {
        Value::String(s) => is_template(s),
        Value::Array(items) => items.iter().any(has_expressions),
        Value::Object(map) => map.values().any(has_expressions),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn is_template(s: &str) -> bool {
    s.contains("{{")
        && parse_template(s)
            .iter()
            .any(|segment| matches!(segment, Segment::Expression(_)))
}

/// How expressions get evaluated: the JavaScript session, or a stub in tests.
pub(crate) trait Evaluator {
    /// The value of `source` as JSON text, or as interpolation text when `as_text`.
    fn evaluate(&self, source: &str, as_text: bool) -> Result<String, ScriptError>;
}

/// Evaluates every string in `value`, keeping its shape. `path` names the
/// current position (`fields.total`, `rules[2]`) for error messages.
pub(crate) fn evaluate_value(
    evaluator: &impl Evaluator,
    value: &Value,
    path: &mut String,
) -> Result<Value, ScriptError> {
    match value {
        Value::String(s) => evaluate_string(evaluator, s).map_err(|e| at_path(e, path)),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                out.push(evaluate_value(evaluator, item, path)?);
                path.truncate(len);
            }
            Ok(Value::Array(out))
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                out.insert(key.clone(), evaluate_value(evaluator, item, path)?);
                path.truncate(len);
            }
            Ok(Value::Object(out))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(value.clone()),
    }
}

/// Evaluates one parameter string.
pub(crate) fn evaluate_string(evaluator: &impl Evaluator, s: &str) -> Result<Value, ScriptError> {
    if !s.contains("{{") {
        return Ok(Value::String(s.to_owned()));
    }
    match parse_template(s).as_slice() {
        [Segment::Expression(source)] => {
            let json = evaluator.evaluate(source, false)?;
            serde_json::from_str(&json).map_err(|e| ScriptError::Engine {
                message: format!("expression result is not JSON: {e}"),
            })
        }
        segments => {
            let mut out = String::with_capacity(s.len());
            for segment in segments {
                match segment {
                    Segment::Text(text) => out.push_str(text),
                    Segment::Expression(source) => {
                        out.push_str(&evaluator.evaluate(source, true)?);
                    }
                }
            }
            Ok(Value::String(out))
        }
    }
}

/// Names the parameter in a script error, so a node's error says which of its
/// parameters failed. Limit errors stay as they are: they name no code.
fn at_path(error: ScriptError, path: &str) -> ScriptError {
    match error {
        ScriptError::Script { message } if !path.is_empty() => ScriptError::Script {
            message: format!("{message} (in parameter `{path}`)"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_string_is_one_text_segment() {
        assert_eq!(parse_template("hello"), vec![Segment::Text("hello")]);
    }

    #[test]
    fn expressions_and_text_alternate() {
        assert_eq!(
            parse_template("a {{ 1 + 2 }} b {{x}}"),
            vec![
                Segment::Text("a "),
                Segment::Expression("1 + 2"),
                Segment::Text(" b "),
                Segment::Expression("x"),
            ]
        );
    }

    #[test]
    fn braces_and_strings_inside_an_expression_do_not_close_it() {
        assert_eq!(
            parse_template("{{ {a: {b: '}}'}} }}"),
            vec![Segment::Expression("{a: {b: '}}'}}")]
        );
    }

    #[test]
    fn an_unclosed_expression_is_text() {
        assert_eq!(parse_template("x {{ y"), vec![Segment::Text("x {{ y")]);
        assert!(!is_template("x {{ y"));
    }
}
