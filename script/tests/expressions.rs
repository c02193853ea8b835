//! `{{ … }}` expressions as node parameters use them: n8n's `$` variables,
//! JavaScript operators and methods, and the interpolation rules.

use std::collections::BTreeMap;

use flowforge_script::{ExpressionContext, ExpressionEngine, Item, ScriptError, ScriptLimits};
use serde_json::{json, Value};

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("test item must be an object, got {other}"),
    }
}

/// An execution where node "Webhook" returned two items and "Lookup" one,
/// and the current item is the second of three input items.
fn context() -> ExpressionContext {
    let inputs = vec![
        item(json!({"name": "first", "total": 1})),
        item(
            json!({"a": 4, "b": 9, "name": "ada lovelace", "total": 13, "list": [3, 1, 2],
                    "ts": "2024-05-01T12:30:00Z",
                    "items": [{"price": 5}, {"price": 12}, {"price": 30}]}),
        ),
        item(json!({"name": "last", "total": 3})),
    ];
    ExpressionContext::new(Item::new())
        .with_item(1, inputs[1].clone())
        .with_input_items(inputs)
        .with_node_output(
            "Webhook",
            vec![vec![
                item(json!({"body": {"id": "w-0"}})),
                item(json!({"body": {"id": "w-1"}})),
            ]],
        )
        .with_node_output("Lookup", vec![vec![item(json!({"id": 42, "tags": ["x"]}))]])
        .with_node_output("Check", vec![vec![], vec![item(json!({"failed": true}))]])
        .with_execution_id("exec-7")
        .with_workflow_id("wf-3")
        .with_now_rfc3339("2026-11-24T09:30:15+01:00")
        .expect("valid timestamp")
        .with_vars(item(json!({"region": "eu-west", "limit": 10})))
}

fn eval(template: &str) -> Result<Value, ScriptError> {
    ExpressionEngine::new().evaluate_parameters(&json!(template), &context())
}

fn ok(template: &str) -> Value {
    eval(template).unwrap_or_else(|e| panic!("{template}: {e}"))
}

fn script_error(template: &str) -> String {
    match eval(template) {
        Err(ScriptError::Script { message }) => message,
        other => panic!("{template}: expected a script error, got {other:?}"),
    }
}

#[test]
fn json_fields_keep_their_type() {
    assert_eq!(ok("{{ $json.a + $json.b }}"), json!(13));
    assert_eq!(ok("{{ $json.total > 10 }}"), json!(true));
    assert_eq!(ok("{{ $json.name }}"), json!("ada lovelace"));
    assert_eq!(ok("{{ $json.items[1] }}"), json!({"price": 12}));
    assert_eq!(ok("{{ $json.missing }}"), Value::Null);
    assert_eq!(ok("{{ 1.5 * 2 }}"), json!(3));
    assert_eq!(ok("{{ 0.1 + 0.2 }}"), json!(0.30000000000000004));
}

#[test]
fn input_gives_all_first_last_and_the_current_item() {
    assert_eq!(ok("{{ $input.all().length }}"), json!(3));
    assert_eq!(
        ok("{{ $input.all().map(i => i.json.total) }}"),
        json!([1, 13, 3])
    );
    assert_eq!(ok("{{ $input.first().json.name }}"), json!("first"));
    assert_eq!(ok("{{ $input.last().json.name }}"), json!("last"));
    assert_eq!(ok("{{ $input.item.json.total }}"), json!(13));
    assert_eq!(ok("{{ $itemIndex }}"), json!(1));
}

#[test]
fn node_gives_the_first_item_of_a_node_that_ran() {
    assert_eq!(ok("{{ $node[\"Lookup\"].json.id }}"), json!(42));
    assert_eq!(ok("{{ $node['Webhook'].json.body.id }}"), json!("w-0"));
    assert_eq!(ok("{{ $node.Lookup.json.tags[0] }}"), json!("x"));
}

#[test]
fn dollar_function_reads_paired_first_last_and_all_items() {
    // One item: every item pairs with it.
    assert_eq!(ok("{{ $('Lookup').item.json.id }}"), json!(42));
    // Several items: the one at the current index.
    assert_eq!(ok("{{ $('Webhook').item.json.body.id }}"), json!("w-1"));
    assert_eq!(ok("{{ $('Webhook').first().json.body.id }}"), json!("w-0"));
    assert_eq!(ok("{{ $('Webhook').last().json.body.id }}"), json!("w-1"));
    assert_eq!(ok("{{ $('Webhook').all().length }}"), json!(2));
    assert_eq!(ok("{{ $('Check').all(1)[0].json.failed }}"), json!(true));
    assert_eq!(ok("{{ $('Lookup').isExecuted }}"), json!(true));
}

#[test]
fn referencing_a_node_that_did_not_run_is_a_clear_error() {
    let message = script_error("{{ $('Nope').item.json.id }}");
    assert!(message.contains(r#"node "Nope" has not run"#), "{message}");
    let message = script_error("{{ $node[\"Nope\"].json }}");
    assert!(message.contains(r#"node "Nope" has not run"#), "{message}");
    let message = script_error("{{ $node[\"Check\"].json }}");
    assert!(
        message.contains(r#"node "Check" returned no items"#),
        "{message}"
    );
}

#[test]
fn execution_workflow_and_vars() {
    assert_eq!(ok("{{ $execution.id }}"), json!("exec-7"));
    assert_eq!(ok("{{ $workflow.id }}"), json!("wf-3"));
    assert_eq!(ok("{{ $vars.region }}"), json!("eu-west"));
    assert_eq!(ok("{{ $json.total > $vars.limit }}"), json!(true));
}

#[test]
fn now_is_the_callers_instant_as_a_date() {
    assert_eq!(ok("{{ $now }}"), json!("2026-11-24T08:30:15.000Z"));
    assert_eq!(ok("{{ $now instanceof Date }}"), json!(true));
    assert_eq!(ok("{{ $now.getUTCHours() }}"), json!(8));
    assert_eq!(ok("{{ $now.getTime() }}"), json!(1_795_509_015_000_i64));
    // Midnight in the caller's offset (+01:00).
    assert_eq!(ok("{{ $today }}"), json!("2026-11-23T23:00:00.000Z"));
    assert_eq!(ok("at {{ $now }}"), json!("at 2026-11-24T08:30:15.000Z"));
}

#[test]
fn now_without_a_supplied_instant_is_an_error() {
    let engine = ExpressionEngine::new();
    let error = engine
        .evaluate("$now", &ExpressionContext::new(Item::new()))
        .expect_err("no clock");
    assert!(
        error.to_string().contains("$now is not available"),
        "{error}"
    );
}

#[test]
fn a_bad_now_is_rejected_when_the_context_is_built() {
    let error = ExpressionContext::new(Item::new())
        .with_now_rfc3339("yesterday")
        .expect_err("not RFC 3339");
    assert!(
        matches!(error, ScriptError::InvalidContext { .. }),
        "{error:?}"
    );
}

#[test]
fn env_is_disabled_unless_the_caller_enables_it() {
    let message = script_error("{{ $env.HOME }}");
    assert!(message.contains("access to $env is disabled"), "{message}");

    let env = BTreeMap::from([("API_BASE".to_owned(), "https://api.test".to_owned())]);
    let ctx = context().with_env(env);
    let engine = ExpressionEngine::new();
    assert_eq!(
        engine
            .evaluate_parameters(&json!("{{ $env.API_BASE }}/v1"), &ctx)
            .expect("env enabled"),
        json!("https://api.test/v1")
    );
    assert_eq!(
        engine.evaluate("$env.OTHER", &ctx).expect("missing key"),
        Value::Null
    );
}

#[test]
fn operators() {
    assert_eq!(ok("{{ $json.a * 2 - $json.b / 3 }}"), json!(5));
    assert_eq!(ok("{{ $json.a === 4 && $json.b !== 4 }}"), json!(true));
    assert_eq!(
        ok("{{ $json.total > 20 ? 'big' : 'small' }}"),
        json!("small")
    );
    assert_eq!(ok("{{ $json.missing ?? 'fallback' }}"), json!("fallback"));
    assert_eq!(ok("{{ $json.missing?.deep }}"), Value::Null);
    assert_eq!(ok("{{ `${$json.a}-${$json.b}` }}"), json!("4-9"));
    assert_eq!(ok("{{ typeof $json.name }}"), json!("string"));
    assert_eq!(ok("{{ !$json.missing }}"), json!(true));
    assert_eq!(ok("{{ 7 % 3 }}"), json!(1));
    assert_eq!(ok("{{ 2 ** 10 }}"), json!(1024));
}

#[test]
fn string_methods() {
    assert_eq!(ok("{{ $json.name.toUpperCase() }}"), json!("ADA LOVELACE"));
    assert_eq!(ok("{{ $json.name.split(' ')[1] }}"), json!("lovelace"));
    assert_eq!(ok("{{ $json.name.includes('love') }}"), json!(true));
    assert_eq!(
        ok("{{ $json.name.replace(/a/g, 'A') }}"),
        json!("AdA lovelAce")
    );
    assert_eq!(ok("{{ String($json.a).padStart(3, '0') }}"), json!("004"));
    assert_eq!(ok("{{ '  x '.trim().length }}"), json!(1));
    assert_eq!(ok("{{ $json.name.slice(0, 3) }}"), json!("ada"));
}

#[test]
fn array_methods() {
    assert_eq!(
        ok("{{ $json.items.filter(i => i.price > 10).length }}"),
        json!(2)
    );
    assert_eq!(
        ok("{{ $json.items.map(i => i.price) }}"),
        json!([5, 12, 30])
    );
    assert_eq!(
        ok("{{ $json.items.reduce((s, i) => s + i.price, 0) }}"),
        json!(47)
    );
    assert_eq!(
        ok("{{ $json.items.find(i => i.price > 10).price }}"),
        json!(12)
    );
    assert_eq!(ok("{{ $json.list.sort() }}"), json!([1, 2, 3]));
    assert_eq!(ok("{{ $json.list.join('|') }}"), json!("3|1|2"));
    assert_eq!(ok("{{ [...$json.list, 4].length }}"), json!(4));
    assert_eq!(ok("{{ Object.keys($json.items[0]) }}"), json!(["price"]));
    assert_eq!(ok("{{ Math.max(...$json.list) }}"), json!(3));
}

#[test]
fn date_methods() {
    assert_eq!(ok("{{ new Date($json.ts).getFullYear() }}"), json!(2024));
    assert_eq!(
        ok("{{ new Date($json.ts).toISOString() }}"),
        json!("2024-05-01T12:30:00.000Z")
    );
    assert_eq!(ok("{{ new Date($json.ts).getUTCMonth() + 1 }}"), json!(5));
    assert_eq!(
        ok("{{ new Date(new Date($json.ts).getTime() + 86400000).toISOString().slice(0, 10) }}"),
        json!("2024-05-02")
    );
    assert_eq!(
        ok("{{ Math.round(($now - new Date($json.ts)) / 86400000) }}"),
        json!(937)
    );
}

#[test]
fn statements_yield_their_completion_value() {
    assert_eq!(
        ok("{{ if ($json.a > 1) { 'big' } else { 'small' } }}"),
        json!("big")
    );
    assert_eq!(
        ok("{{ (() => { const x = $json.a; return x * x })() }}"),
        json!(16)
    );
    assert_eq!(ok("{{ $json.a; }}"), json!(4));
    let params = json!({"x": "{{ let a = $json.a; a }}", "y": "{{ let a = $json.b; a }}"});
    assert_eq!(
        ExpressionEngine::new().evaluate_parameters(&params, &context()),
        Ok(json!({"x": 4, "y": 9}))
    );
}

#[test]
fn mixed_text_interpolates_each_value() {
    assert_eq!(ok("Hello {{ $json.name }}!"), json!("Hello ada lovelace!"));
    assert_eq!(
        ok("{{ $json.a }} + {{ $json.b }} = {{ $json.a + $json.b }}"),
        json!("4 + 9 = 13")
    );
    assert_eq!(
        ok("item: {{ $json.items[0] }}"),
        json!(r#"item: {"price":5}"#)
    );
    assert_eq!(ok("list: {{ $json.list }}"), json!("list: [3,1,2]"));
    assert_eq!(ok("[{{ $json.missing }}][{{ null }}]"), json!("[][]"));
    assert_eq!(ok("ok={{ true }}"), json!("ok=true"));
    assert_eq!(
        ok(" {{ 1 }}"),
        json!(" 1"),
        "any text around makes it a string"
    );
}

#[test]
fn braces_and_quotes_inside_an_expression() {
    assert_eq!(ok("{{ {a: {b: 1}} }}"), json!({"a": {"b": 1}}));
    assert_eq!(ok("{{ '}}' }}"), json!("}}"));
    assert_eq!(ok("{{$json.a}}"), json!(4));
}

#[test]
fn strings_without_a_complete_expression_are_kept() {
    assert_eq!(ok("plain text"), json!("plain text"));
    assert_eq!(ok("{{ not closed"), json!("{{ not closed"));
    assert_eq!(ok("{ single }"), json!("{ single }"));
    assert_eq!(ok(""), json!(""));
}

#[test]
fn a_parameter_tree_is_evaluated_in_place() {
    let params = json!({
        "fields": {"total": "{{ $json.a + $json.b }}", "label": "n={{ $json.a }}"},
        "keep_only_set": true,
        "rules": ["{{ $json.total > 10 }}", "{{ $json.total > 100 }}", "static"],
        "limit": 5,
        "nothing": null,
        "{{ keys stay }}": "as they are"
    });
    let out = ExpressionEngine::new()
        .evaluate_parameters(&params, &context())
        .expect("evaluates");
    assert_eq!(
        out,
        json!({
            "fields": {"total": 13, "label": "n=4"},
            "keep_only_set": true,
            "rules": [true, false, "static"],
            "limit": 5,
            "nothing": null,
            "{{ keys stay }}": "as they are"
        })
    );
}

#[test]
fn parameters_without_expressions_never_start_javascript() {
    // One byte of heap: any QuickJS context would fail to be created.
    let starved = ExpressionEngine::new()
        .with_expression_limits(ScriptLimits::expression().with_memory_bytes(1));
    let params = json!({"url": "https://x.test/{id}", "n": [1, 2, {"deep": "{ not }"}]});
    assert_eq!(
        starved.evaluate_parameters(&params, &context()),
        Ok(params.clone())
    );
    assert!(matches!(
        starved.evaluate_parameters(&json!({"x": "{{ 1 }}"}), &context()),
        Err(ScriptError::OutOfMemory { .. })
    ));
}

#[test]
fn one_expression_mutating_data_does_not_leak_into_the_next() {
    let params = json!({"push": "{{ $json.list.push(4) }}", "len": "{{ $json.list.length }}"});
    let out = ExpressionEngine::new()
        .evaluate_parameters(&params, &context())
        .expect("evaluates");
    assert_eq!(out, json!({"push": 4, "len": 3}));
}

#[test]
fn thrown_and_syntax_errors_are_script_errors_naming_the_parameter() {
    let message = script_error("{{ $json.missing.deep }}");
    assert!(message.starts_with("TypeError:"), "{message}");

    let message = script_error("{{ $json.a + }}");
    assert!(message.starts_with("SyntaxError:"), "{message}");

    let message = script_error("{{ (() => { throw new RangeError('too far') })() }}");
    assert!(message.starts_with("RangeError: too far"), "{message}");

    let message = script_error("{{ (() => { throw 'boom' })() }}");
    assert_eq!(message, "uncaught exception: boom");

    let params = json!({"fields": {"total": "{{ nope() }}"}});
    match ExpressionEngine::new().evaluate_parameters(&params, &context()) {
        Err(ScriptError::Script { message }) => {
            assert!(message.contains("nope is not defined"), "{message}");
            assert!(
                message.ends_with("(in parameter `fields.total`)"),
                "{message}"
            );
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[test]
fn evaluate_takes_a_bare_expression() {
    let engine = ExpressionEngine::new();
    assert_eq!(
        engine.evaluate("$json.a + $json.b", &context()),
        Ok(json!(13))
    );
    assert_eq!(engine.evaluate("undefined", &context()), Ok(Value::Null));
    assert_eq!(engine.evaluate("() => 1", &context()), Ok(Value::Null));
}

#[test]
fn async_functions_and_import_in_an_expression_do_not_abort_the_process() {
    // An expression's promise is not awaited: it reads as an empty object.
    // Without QuickJS's `Promise` built-in, freeing the runtime afterwards
    // failed an assertion and took the whole process down.
    let engine = ExpressionEngine::new();
    for expr in ["(async () => 1)()", "import('x')"] {
        assert_eq!(engine.evaluate(expr, &context()), Ok(json!({})), "{expr}");
    }
    assert_eq!(engine.evaluate("$json.a", &context()), Ok(json!(4)));
}
