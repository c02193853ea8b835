//! Runaway scripts fail their own evaluation with a clear error, and the same
//! engine keeps working afterwards.

use std::thread;
use std::time::{Duration, Instant};

use flowforge_script::{ExpressionContext, ExpressionEngine, Item, ScriptError, ScriptLimits};
use serde_json::{json, Value};

fn ctx() -> ExpressionContext {
    ExpressionContext::new(json!({"a": 1}).as_object().cloned().unwrap_or_default())
}

fn assert_still_works(engine: &ExpressionEngine) {
    assert_eq!(
        engine.evaluate_parameters(&json!("{{ $json.a + 1 }}"), &ctx()),
        Ok(json!(2))
    );
}

#[test]
fn an_endless_loop_times_out_after_the_default_second() {
    let engine = ExpressionEngine::new();
    let started = Instant::now();
    let result = engine.evaluate_parameters(&json!("{{ while(true){} }}"), &ctx());
    let took = started.elapsed();
    assert_eq!(
        result,
        Err(ScriptError::Timeout {
            timeout: Duration::from_secs(1)
        })
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_still_works(&engine);
}

#[test]
fn a_script_cannot_catch_its_own_timeout() {
    let engine = ExpressionEngine::new().with_expression_limits(
        ScriptLimits::expression().with_timeout(Duration::from_millis(200)),
    );
    let result = engine.evaluate(
        "(() => { for (;;) { try { while (true) {} } catch (e) {} } })()",
        &ctx(),
    );
    assert!(
        matches!(result, Err(ScriptError::Timeout { .. })),
        "{result:?}"
    );
    assert_still_works(&engine);
}

#[test]
fn catastrophic_regex_backtracking_times_out() {
    let engine = ExpressionEngine::new().with_expression_limits(
        ScriptLimits::expression().with_timeout(Duration::from_millis(300)),
    );
    let result = engine.evaluate("/(a+)+$/.test('a'.repeat(40) + 'b')", &ctx());
    assert!(
        matches!(result, Err(ScriptError::Timeout { .. })),
        "{result:?}"
    );
    assert_still_works(&engine);
}

#[test]
fn an_allocation_bomb_runs_out_of_memory() {
    let engine = ExpressionEngine::new();
    let result = engine.evaluate_parameters(
        &json!("{{ (() => { let a = []; while (true) a.push(new Array(1e6).fill(1)) })() }}"),
        &ctx(),
    );
    assert_eq!(
        result,
        Err(ScriptError::OutOfMemory {
            limit_bytes: 32 * 1024 * 1024
        })
    );
    assert_still_works(&engine);
}

#[test]
fn a_statement_allocation_bomb_runs_out_of_memory() {
    let engine = ExpressionEngine::new();
    let result = engine.evaluate(
        "let a = []; while (true) a.push(new Array(1e6).fill(1))",
        &ctx(),
    );
    assert!(
        matches!(result, Err(ScriptError::OutOfMemory { .. })),
        "{result:?}"
    );
    assert_still_works(&engine);
}

#[test]
fn a_string_bomb_runs_out_of_memory() {
    let engine = ExpressionEngine::new();
    let result = engine.evaluate("(() => { let s = 'x'; while (true) s += s })()", &ctx());
    // QuickJS concatenates into ropes, so the length cap may come before the heap cap.
    let clear = match &result {
        Err(ScriptError::OutOfMemory { .. }) => true,
        Err(ScriptError::Script { message }) => message == "InternalError: string too long",
        _ => false,
    };
    assert!(clear, "{result:?}");
    assert_still_works(&engine);
}

#[test]
fn endless_recursion_is_a_stack_overflow_script_error() {
    let engine = ExpressionEngine::new();
    let result = engine.evaluate("(function f(n) { return f(n + 1) + 1 })(0)", &ctx());
    match result {
        Err(ScriptError::Script { message }) => {
            assert!(
                message.contains("Maximum call stack size exceeded"),
                "{message}"
            )
        }
        other => panic!("expected a stack overflow, got {other:?}"),
    }
    // Moderate recursion fits in the default stack.
    assert_eq!(
        engine.evaluate(
            "(function f(n) { return n === 0 ? 0 : 1 + f(n - 1) })(500)",
            &ctx()
        ),
        Ok(json!(500))
    );
    assert_still_works(&engine);
}

#[test]
fn a_huge_result_is_out_of_memory_not_a_crash() {
    let engine = ExpressionEngine::new()
        .with_expression_limits(ScriptLimits::expression().with_memory_bytes(4 * 1024 * 1024));
    let result = engine.evaluate("'x'.repeat(8 * 1024 * 1024)", &ctx());
    assert!(
        matches!(result, Err(ScriptError::OutOfMemory { .. })),
        "{result:?}"
    );
    assert_still_works(&engine);
}

#[test]
fn the_code_node_has_its_own_limits() {
    let engine = ExpressionEngine::new()
        .with_code_limits(ScriptLimits::code().with_timeout(Duration::from_millis(300)));
    assert_eq!(engine.code_limits().timeout, Duration::from_millis(300));
    assert_eq!(
        ExpressionEngine::new().code_limits().timeout,
        Duration::from_secs(5)
    );

    let result = engine.run_code("while (true) {}", vec![], &ctx());
    assert!(
        matches!(result, Err(ScriptError::Timeout { .. })),
        "{result:?}"
    );

    let result = engine.run_code(
        "const a = []; for (;;) a.push(new Array(1e6).fill(items.length)); return a",
        vec![Item::new()],
        &ctx(),
    );
    assert!(
        matches!(result, Err(ScriptError::OutOfMemory { .. })),
        "{result:?}"
    );

    assert_eq!(
        engine.run_code("return items", vec![Item::new()], &ctx()),
        Ok(vec![Item::new()])
    );
}

#[test]
fn the_engine_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<ExpressionEngine>();
    assert_send_sync::<ExpressionContext>();

    let engine = ExpressionEngine::new().with_expression_limits(
        ScriptLimits::expression().with_timeout(Duration::from_millis(200)),
    );
    let workers: Vec<_> = (0..4)
        .map(|n| {
            thread::spawn(move || {
                let ctx = ExpressionContext::new(
                    json!({"n": n}).as_object().cloned().unwrap_or_default(),
                );
                if n == 0 {
                    // A runaway on one thread does not hold up the others.
                    let r = engine.evaluate("while (true) {}", &ctx);
                    assert!(matches!(r, Err(ScriptError::Timeout { .. })), "{r:?}");
                }
                (0..50)
                    .map(|_| engine.evaluate("$json.n * 10", &ctx))
                    .collect::<Result<Vec<Value>, _>>()
            })
        })
        .collect();
    for (n, worker) in workers.into_iter().enumerate() {
        let values = worker.join().expect("no panic").expect("evaluates");
        assert!(values.iter().all(|v| *v == json!(n * 10)));
    }
}
