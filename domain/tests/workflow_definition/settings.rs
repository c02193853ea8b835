//! Workflow settings: the ones FlowForge acts on are read and the rest kept; one
//! it cannot use is refused, naming it.

use flowforge_domain::workflow::{DefinitionError, WorkflowSettings};
use serde_json::json;

use crate::support::{parse, parse_err};

#[test]
fn settings_flowforge_acts_on_are_read_and_the_rest_kept() {
    let error_workflow = "0190f1c2-0000-7000-8000-000000000001";
    let definition = parse(
        json!({"name": "w", "nodes": [{"name": "Start", "type": "manual_trigger"}],
        "settings": {"execution_timeout_ms": 5000, "max_concurrent_executions": 2,
                     "error_workflow": error_workflow, "saveManualExecutions": true}}),
    )
    .expect("the settings are valid");
    let settings = definition.workflow_settings();
    assert_eq!(settings.execution_timeout_ms, Some(5000));
    assert_eq!(settings.max_concurrent_executions, Some(2));
    assert_eq!(
        settings.error_workflow.map(|id| id.to_string()).as_deref(),
        Some(error_workflow)
    );
    assert_eq!(definition.settings()["saveManualExecutions"], json!(true));
    let none = parse(json!({"name": "w", "nodes": [{"name": "Start", "type": "manual_trigger"}]}))
        .expect("no settings is valid");
    assert_eq!(none.workflow_settings(), WorkflowSettings::default());
}

#[test]
fn a_setting_flowforge_cannot_use_is_refused_naming_it() {
    let cases = [
        (json!({"execution_timeout_ms": 0}), "execution_timeout_ms"),
        (
            json!({"execution_timeout_ms": "10s"}),
            "execution_timeout_ms",
        ),
        (
            json!({"execution_timeout_ms": 2_592_000_001_u64}),
            "execution_timeout_ms",
        ),
        (
            json!({"max_concurrent_executions": 0}),
            "max_concurrent_executions",
        ),
        (
            json!({"max_concurrent_executions": -3}),
            "max_concurrent_executions",
        ),
        (json!({"error_workflow": "not-a-uuid"}), "error_workflow"),
        (json!({"error_workflow": 42}), "error_workflow"),
    ];
    for (settings, key) in cases {
        let error = parse_err(json!({"name": "w",
            "nodes": [{"name": "Start", "type": "manual_trigger"}], "settings": settings}));
        assert!(
            matches!(&error, DefinitionError::InvalidSetting { setting, .. } if setting == key),
            "{settings}: {error:?}"
        );
        assert!(
            error.to_string().starts_with(&format!("setting \"{key}\"")),
            "{error}"
        );
        assert_eq!(error.node(), None);
    }
}
