//! A tool call's arguments as the person approving it reads them: secrets
//! redacted, long values cut, one `name: value` line per argument.

use serde_json::Value;

/// Longest value shown, in characters.
const VALUE_CHARS: usize = 300;
/// Longest whole text shown, in characters.
const TOTAL_CHARS: usize = 1500;

/// Argument names whose values are never shown.
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace(['-', '_'], "");
    [
        "token",
        "secret",
        "password",
        "passwd",
        "apikey",
        "authorization",
        "cookie",
        "credential",
        "privatekey",
    ]
    .iter()
    .any(|s| name.contains(s))
}

fn cut(text: &str, limit: usize) -> String {
    let total = text.chars().count();
    if total <= limit {
        return text.to_string();
    }
    let kept: String = text.chars().take(limit).collect();
    format!("{kept}… ({} more characters)", total - limit)
}

fn value(name: &str, v: &Value) -> String {
    if secret_name(name) {
        return "[redacted]".into();
    }
    match v {
        Value::String(s) => cut(s, VALUE_CHARS),
        Value::Object(map) => {
            let inner: serde_json::Map<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let shown = if secret_name(k) {
                        Value::String("[redacted]".into())
                    } else {
                        v.clone()
                    };
                    (k.clone(), shown)
                })
                .collect();
            cut(&Value::Object(inner).to_string(), VALUE_CHARS)
        }
        other => cut(&other.to_string(), VALUE_CHARS),
    }
}

/// The arguments (JSON text as the model wrote it) for a person, with
/// `redact` applied last (the secret store's known values).
pub fn arguments(raw: &str, redact: impl Fn(&str) -> String) -> String {
    let text = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", value(k, v)))
            .collect::<Vec<_>>()
            .join("\n"),
        Ok(Value::Object(_)) => "(no arguments)".into(),
        _ => format!("(not JSON) {}", cut(raw, VALUE_CHARS)),
    };
    cut(&redact(&text), TOTAL_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_long_values_cut() {
        let raw = serde_json::json!({
            "command": "curl -H 'x: sk-live-123' example.org",
            "api_key": "abc",
            "headers": {"Authorization": "Bearer zzz", "accept": "json"},
            "body": "x".repeat(1000),
        })
        .to_string();
        let shown = arguments(&raw, |t| t.replace("sk-live-123", "[secret]"));
        assert!(
            shown.contains("command: curl -H 'x: [secret]' example.org"),
            "{shown}"
        );
        assert!(shown.contains("api_key: [redacted]"));
        assert!(!shown.contains("zzz"), "{shown}");
        assert!(shown.contains("\"accept\":\"json\""));
        assert!(shown.contains("… (700 more characters)"), "{shown}");
        assert_eq!(arguments("{}", |t| t.into()), "(no arguments)");
        assert!(arguments("[1", |t| t.into()).starts_with("(not JSON) [1"));
    }
}
