//! Checks a component's tool specs when it loads. One component's bad
//! spec must take out only that component: a parameters schema that is not
//! a JSON Schema object makes OpenAI-style services refuse the whole
//! request, so every conversation would fail, with any tool.

use super::bindings::ToolSpec;

/// Longest tool name: what the strictest provider accepts (64) after the
/// dots are mapped.
const MAX_NAME: usize = 64;

/// Why `spec` cannot be offered to a model, or `None` when it can.
pub fn problem(spec: &ToolSpec) -> Option<String> {
    let name = &spec.name;
    if name.is_empty() {
        return Some("a tool has an empty name".into());
    }
    if name.len() > MAX_NAME {
        return Some(format!(
            "tool name {name:?} is longer than {MAX_NAME} characters"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        || name.starts_with('.')
        || name.ends_with('.')
    {
        return Some(format!(
            "tool name {name:?} may hold only letters, digits, '.', '_' and '-', and not start or end with '.'"
        ));
    }
    let schema: serde_json::Value = match serde_json::from_str(&spec.parameters) {
        Ok(v) => v,
        Err(e) => {
            return Some(format!(
                "tool {name}: parameters is not JSON ({e}); it must be a JSON Schema object"
            ));
        }
    };
    let Some(object) = schema.as_object() else {
        return Some(format!(
            "tool {name}: parameters must be a JSON Schema object, not {}",
            kind(&schema)
        ));
    };
    match object.get("type") {
        None => {}
        Some(serde_json::Value::String(t)) if t == "object" => {}
        Some(other) => {
            return Some(format!(
                "tool {name}: parameters must describe an object (\"type\": \"object\"), not {other}"
            ));
        }
    }
    if let Some(p) = object.get("properties")
        && !p.is_object()
    {
        return Some(format!(
            "tool {name}: parameters.properties must be an object, not {}",
            kind(p)
        ));
    }
    if let Some(r) = object.get("required")
        && !r
            .as_array()
            .is_some_and(|a| a.iter().all(|v| v.is_string()))
    {
        return Some(format!(
            "tool {name}: parameters.required must be a list of property names"
        ));
    }
    None
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Checks every spec and that no name repeats within the component.
pub fn check_all(specs: &[ToolSpec]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for spec in specs {
        if let Some(p) = problem(spec) {
            return Err(p);
        }
        if !seen.insert(spec.name.as_str()) {
            return Err(format!("tool {} is listed twice", spec.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, parameters: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: "d".into(),
            parameters: parameters.into(),
        }
    }

    #[test]
    fn good_specs_pass() {
        assert_eq!(problem(&spec("time.now", r#"{"type":"object"}"#)), None);
        assert_eq!(
            problem(&spec(
                "a_b-c.d",
                r#"{"type":"object","properties":{"x":{"type":"string"}},"required":["x"]}"#
            )),
            None
        );
        assert_eq!(problem(&spec("x", "{}")), None);
    }

    #[test]
    fn each_bad_spec_is_named() {
        for (s, says) in [
            (spec("t", "not json {"), "is not JSON"),
            (spec("t", "[1]"), "not an array"),
            (spec("t", "\"object\""), "not a string"),
            (spec("t", r#"{"type":"array"}"#), "describe an object"),
            (
                spec("t", r#"{"properties":[]}"#),
                "properties must be an object",
            ),
            (spec("t", r#"{"required":"x"}"#), "required must be a list"),
            (spec("", "{}"), "empty name"),
            (spec("a b", "{}"), "may hold only"),
            (spec(".a", "{}"), "may hold only"),
            (spec(&"x".repeat(65), "{}"), "longer than 64"),
        ] {
            let p = problem(&s).unwrap_or_else(|| panic!("{s:?} passed"));
            assert!(p.contains(says), "{s:?}: {p}");
        }
    }

    #[test]
    fn a_name_listed_twice_is_refused() {
        let e = check_all(&[spec("a", "{}"), spec("a", "{}")]).unwrap_err();
        assert!(e.contains("listed twice"), "{e}");
        assert!(check_all(&[spec("a", "{}"), spec("b", "{}")]).is_ok());
    }
}
