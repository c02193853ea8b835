//! The files in `monitoring/` agree with the code: every metric a dashboard or
//! an alert rule queries is one FlowForge exports, and promtool accepts the
//! Prometheus configuration and the alert rules.

use std::{collections::BTreeSet, path::PathBuf, process::Command};

fn monitoring_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The metric names a PromQL expression uses (FlowForge's and the process's).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = ["flowforge_", "process_"]
        .iter()
        .filter_map(|prefix| rest.find(prefix))
        .min()
    {
        let boundary = rest[..at]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if boundary {
            names.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// A histogram's series name without its `_bucket` / `_sum` / `_count` suffix.
fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(values) => values.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

fn exported() -> BTreeSet<String> {
    flowforge_monitoring::metrics()
        .family_names()
        .into_iter()
        .collect()
}

#[test]
fn every_dashboard_queries_only_exported_metrics() {
    let exported = exported();
    let dir = monitoring_dir().join("grafana/dashboards");
    let mut dashboards = 0;
    for entry in std::fs::read_dir(&dir).expect("dashboards directory") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("dashboard");
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            json["title"].is_string() && json["uid"].is_string(),
            "{}",
            path.display()
        );
        let mut found = Vec::new();
        exprs(&json, &mut found);
        assert!(!found.is_empty(), "{} queries nothing", path.display());
        for expr in &found {
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{}: no metric in {expr}", path.display());
            for name in names {
                assert!(
                    exported.contains(family(&name)),
                    "{}: {name} is not exported (in {expr})",
                    path.display()
                );
            }
        }
        dashboards += 1;
    }
    assert!(dashboards >= 3, "{dashboards} dashboards");
}

#[test]
fn every_alert_rule_queries_only_exported_metrics() {
    let exported = exported();
    let rules = std::fs::read_to_string(monitoring_dir().join("prometheus/alerts.yml"))
        .expect("alert rules");
    let names = metric_names(&rules);
    assert!(names.len() >= 4, "{names:?}");
    for name in names {
        assert!(exported.contains(family(&name)), "{name} is not exported");
    }
}

#[test]
fn promtool_accepts_the_config_and_the_rules() {
    let dir = monitoring_dir().join("prometheus");
    for args in [
        vec!["check", "rules", "alerts.yml"],
        vec!["check", "config", "prometheus.yml"],
    ] {
        let output = match Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
        {
            Ok(output) => output,
            Err(error)
                if !std::env::var("FLOWFORGE_REQUIRE_SERVICES")
                    .is_ok_and(|v| v == "1" || v == "true") =>
            {
                println!(
                    "SKIPPED: promtool is not installed ({error}); apt-get install prometheus"
                );
                return;
            }
            Err(error) => panic!("promtool is required in CI: {error}"),
        };
        assert!(
            output.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn metric_names_are_found_in_promql() {
    assert_eq!(
        metric_names(
            r#"sum by (le) (rate(flowforge_http_request_duration_seconds_bucket{a="b"}[5m])) / process_resident_memory_bytes"#
        ),
        [
            "flowforge_http_request_duration_seconds_bucket",
            "process_resident_memory_bytes"
        ]
    );
    assert!(metric_names("my_flowforge_x").is_empty());
}
