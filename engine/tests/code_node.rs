//! The Code node: JavaScript over all items, returning items.

use flowforge_engine::{EngineError, ExpressionContext, ExpressionEngine, Item};
use serde_json::{json, Value};

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("test item must be an object, got {other}"),
    }
}

fn items() -> Vec<Item> {
    vec![
        item(json!({"v": 1, "name": "a"})),
        item(json!({"v": 2, "name": "b"})),
    ]
}

fn ctx() -> ExpressionContext {
    ExpressionContext::new(Item::new())
        .with_node_output("Config", vec![vec![item(json!({"factor": 10}))]])
        .with_vars(item(json!({"suffix": "!"})))
        .with_execution_id("exec-1")
}

fn run(js: &str) -> Result<Vec<Item>, EngineError> {
    ExpressionEngine::new().run_code(js, items(), &ctx())
}

fn invalid(js: &str) -> String {
    match run(js) {
        Err(EngineError::InvalidCodeResult { message }) => message,
        other => panic!("{js}: expected an invalid result, got {other:?}"),
    }
}

#[test]
fn maps_items_to_new_items() {
    let out = run("return items.map(item => ({ json: { doubled: item.json.v * 2 } }))");
    assert_eq!(
        out,
        Ok(vec![
            item(json!({"doubled": 2})),
            item(json!({"doubled": 4}))
        ])
    );
}

#[test]
fn mutating_items_in_place_and_returning_them_works() {
    let out = run("for (const item of items) { item.json.seen = true }\nreturn items;");
    assert_eq!(
        out,
        Ok(vec![
            item(json!({"v": 1, "name": "a", "seen": true})),
            item(json!({"v": 2, "name": "b", "seen": true})),
        ])
    );
}

#[test]
fn plain_objects_and_a_single_object_are_wrapped() {
    assert_eq!(
        run("return items.map(i => ({ name: i.json.name }))"),
        Ok(vec![item(json!({"name": "a"})), item(json!({"name": "b"}))])
    );
    assert_eq!(
        run("return { json: { count: items.length } }"),
        Ok(vec![item(json!({"count": 2}))])
    );
    assert_eq!(run("return []"), Ok(vec![]));
}

#[test]
fn sees_input_nodes_vars_and_execution() {
    let js = r#"
        const factor = $('Config').first().json.factor;
        return $input.all().map(i => ({
            json: { v: i.json.v * factor, tag: i.json.name + $vars.suffix, exec: $execution.id },
        }));
    "#;
    assert_eq!(
        run(js),
        Ok(vec![
            item(json!({"v": 10, "tag": "a!", "exec": "exec-1"})),
            item(json!({"v": 20, "tag": "b!", "exec": "exec-1"})),
        ])
    );
}

#[test]
fn has_the_full_set_of_builtins() {
    assert_eq!(
        run("return [{ json: { n: new Uint8Array([1, 2, 3]).length, p: typeof Promise } }]"),
        Ok(vec![item(json!({"n": 3, "p": "function"}))])
    );
}

#[test]
fn returning_nothing_is_explained() {
    let message = invalid("items.map(i => i)");
    assert!(message.contains("returned nothing"), "{message}");
    assert!(message.contains("return items"), "{message}");
}

#[test]
fn returning_a_non_list_is_rejected() {
    assert!(invalid("return 5").contains("returned a number"));
    assert!(invalid("return 'x'").contains("returned a string"));
    assert!(invalid("return null").contains("returned null"));
}

#[test]
fn items_that_are_not_objects_are_rejected_by_position() {
    let message = invalid("return [{ json: {} }, 7]");
    assert!(message.contains("item 1 is a number"), "{message}");
    let message = invalid("return [[1]]");
    assert!(message.contains("item 0 is an array"), "{message}");
    let message = invalid("return [{ json: 'text' }]");
    assert!(
        message.contains("item 0 has a `json` that is a string"),
        "{message}"
    );
}

#[test]
fn errors_name_the_line() {
    match run("const x = 1;\nitems.nope();\nreturn items") {
        Err(EngineError::Script { message }) => {
            assert!(message.starts_with("TypeError:"), "{message}");
            assert!(message.ends_with("(line 2)"), "{message}");
        }
        other => panic!("expected a script error, got {other:?}"),
    }
    match run("return items.map(i => {") {
        Err(EngineError::Script { message }) => {
            assert!(message.starts_with("SyntaxError:"), "{message}")
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match run("throw new Error('bad input')") {
        Err(EngineError::Script { message }) => assert_eq!(message, "Error: bad input (line 1)"),
        other => panic!("expected a thrown error, got {other:?}"),
    }
}
