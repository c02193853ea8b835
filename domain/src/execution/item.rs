//! Items: the unit of data that flows between nodes, as in n8n — one JSON object
//! per item (n8n's `item.json`). A node receives one list of items per input and
//! produces one list per output; the planner routes those lists along the
//! workflow's connections.

use serde_json::{Map, Value};

/// One item: a JSON object.
pub type Item = Map<String, Value>;

/// Joins per-input (or per-output) item lists into one list, keeping their order:
/// what a `merge` node in `append` mode outputs, and what a UI shows as "the input".
pub fn concat_items(lists: &[Vec<Item>]) -> Vec<Item> {
    lists.iter().flatten().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Item {
        match value {
            Value::Object(map) => map,
            other => panic!("an item is an object, got {other}"),
        }
    }

    #[test]
    fn concat_keeps_list_then_item_order() {
        let lists = vec![
            vec![item(json!({"a": 1})), item(json!({"a": 2}))],
            vec![],
            vec![item(json!({"b": 1}))],
        ];
        assert_eq!(
            concat_items(&lists),
            vec![
                item(json!({"a": 1})),
                item(json!({"a": 2})),
                item(json!({"b": 1}))
            ]
        );
    }
}
