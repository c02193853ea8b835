//! The Code node: JavaScript over all items, returning items.

use std::time::{Duration, Instant};

use flowforge_script::{ExpressionContext, ExpressionEngine, Item, ScriptError, ScriptLimits};
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

fn run(js: &str) -> Result<Vec<Item>, ScriptError> {
    ExpressionEngine::new().run_code(js, items(), &ctx())
}

fn invalid(js: &str) -> String {
    match run(js) {
        Err(ScriptError::InvalidCodeResult { message }) => message,
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
        Err(ScriptError::Script { message }) => {
            assert!(message.starts_with("TypeError:"), "{message}");
            assert!(message.ends_with("(line 2)"), "{message}");
        }
        other => panic!("expected a script error, got {other:?}"),
    }
    match run("return items.map(i => {") {
        Err(ScriptError::Script { message }) => {
            assert!(message.starts_with("SyntaxError:"), "{message}")
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match run("throw new Error('bad input')") {
        Err(ScriptError::Script { message }) => assert_eq!(message, "Error: bad input (line 1)"),
        other => panic!("expected a thrown error, got {other:?}"),
    }
}

fn run_with_timeout(js: &str, timeout: Duration) -> Result<Vec<Item>, ScriptError> {
    ExpressionEngine::new()
        .with_code_limits(ScriptLimits::code().with_timeout(timeout))
        .run_code(js, items(), &ctx())
}

fn script_error(js: &str) -> String {
    match run(js) {
        Err(ScriptError::Script { message }) => message,
        other => panic!("{js}: expected a script error, got {other:?}"),
    }
}

#[test]
fn a_returned_promise_is_awaited_for_its_items() {
    assert_eq!(
        run("return Promise.resolve(items.map(i => ({ json: { v: i.json.v + 1 } })))"),
        Ok(vec![item(json!({"v": 2})), item(json!({"v": 3}))])
    );
}

#[test]
fn the_body_may_await_a_promise_chain() {
    let js = r#"
        const step = (n) => Promise.resolve(n).then(x => x * 10);
        const total = await step(1) + await step(2);
        const late = await new Promise(resolve => resolve('done'));
        return [{ json: { total, late } }];
    "#;
    assert_eq!(
        run(js),
        Ok(vec![item(json!({"total": 30, "late": "done"}))])
    );
}

#[test]
fn a_rejected_promise_fails_with_its_message() {
    let message = script_error("return Promise.reject(new Error('boom'))");
    assert!(message.starts_with("Error: boom"), "{message}");
    let message = script_error("await Promise.reject('nope')");
    assert!(message.contains("nope"), "{message}");
    let message = script_error("await null;\nthrow new TypeError('late')");
    assert_eq!(message, "TypeError: late (line 2)");
}

#[test]
fn dynamic_import_fails_at_once_with_a_clear_message() {
    let started = Instant::now();
    let message = script_error("const m = await import('x');\nreturn items");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        message.contains("modules cannot be imported in the Code node"),
        "{message}"
    );
    let message = script_error("return import('./lib.js').then(() => items)");
    assert!(
        message.contains("modules cannot be imported in the Code node"),
        "{message}"
    );
}

#[test]
fn a_promise_that_never_settles_fails_instead_of_hanging() {
    let started = Instant::now();
    let result = run_with_timeout(
        "await new Promise(() => {});\nreturn items",
        Duration::from_secs(2),
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(result, Err(ScriptError::PromiseNeverSettled));
}

#[test]
fn an_endless_loop_after_an_await_times_out() {
    let timeout = Duration::from_millis(300);
    for js in [
        "await null;\nwhile (true) {}",
        "for (;;) { await null }",
        "await Promise.resolve().then(() => { for (;;) {} })",
    ] {
        let started = Instant::now();
        assert_eq!(
            run_with_timeout(js, timeout),
            Err(ScriptError::Timeout { timeout }),
            "{js}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{js}");
    }
}
