//! A setting's value, and how a [`Spec`] reads one from text (CLI, editor)
//! or JSON (model defaults, plugin state) and checks it against its range.

use super::vocabulary::{Kind, Spec};
use super::SettingError;

/// A setting's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A whole number.
    Count(usize),
    /// A real number.
    Number(f32),
    /// A width relative to σ; `None` = ∞.
    Width(Option<f32>),
    /// On or off.
    Switch(bool),
    /// A name (sampler, method, stem).
    Name(String),
    /// A random seed.
    Seed(u64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Number(x) | Value::Width(Some(x)) => write!(f, "{x}"),
            Value::Width(None) => f.write_str("inf"),
            Value::Switch(b) => write!(f, "{b}"),
            Value::Name(s) => f.write_str(s),
            Value::Seed(n) => write!(f, "{n}"),
        }
    }
}

impl Value {
    /// The value as JSON (∞ as "inf").
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Count(n) => (*n).into(),
            Value::Number(x) | Value::Width(Some(x)) => f64::from(*x).into(),
            Value::Width(None) => "inf".into(),
            Value::Switch(b) => (*b).into(),
            Value::Name(s) => s.clone().into(),
            Value::Seed(n) => (*n).into(),
        }
    }
}

impl Spec {
    /// What the setting accepts, in words.
    pub fn rule(&self) -> String {
        match self.kind {
            Kind::Count { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Number { min, max } => format!("a number from {min} to {max}"),
            Kind::Width { max } => format!("a number above 0 and up to {max}, or \"inf\""),
            Kind::Switch => "true or false".into(),
            Kind::Choice(names) => format!("one of {}", names.join(", ")),
            Kind::Stem => "a stem name".into(),
            Kind::Seed => "a whole number from 0 to 18446744073709551615".into(),
        }
    }

    /// The refusal of `got` (as the user wrote it).
    fn refuse(&self, got: impl std::fmt::Display) -> SettingError {
        SettingError::Invalid { label: self.label, rule: self.rule(), got: got.to_string() }
    }

    /// Reads a value from text, as typed on the command line.
    pub fn parse(&self, text: &str) -> Result<Value, SettingError> {
        let t = text.trim();
        let value = match self.kind {
            Kind::Count { .. } => t.parse().ok().map(Value::Count),
            Kind::Number { .. } => t.parse().ok().map(Value::Number),
            Kind::Width { .. } if matches!(t, "inf" | "infinity" | "∞") => Some(Value::Width(None)),
            Kind::Width { .. } => t.parse().ok().map(|x| Value::Width(Some(x))),
            Kind::Switch => match t {
                "true" | "on" | "yes" => Some(Value::Switch(true)),
                "false" | "off" | "no" => Some(Value::Switch(false)),
                _ => None,
            },
            Kind::Choice(_) | Kind::Stem => Some(Value::Name(t.to_string())),
            Kind::Seed => t.parse().ok().map(Value::Seed),
        };
        self.check(value.ok_or_else(|| self.refuse(format!("\"{text}\"")))?)
    }

    /// Reads a value from JSON.
    pub fn from_json(&self, json: &serde_json::Value) -> Result<Value, SettingError> {
        let value = match (self.kind, json) {
            (Kind::Width { .. }, serde_json::Value::String(s)) => return self.parse(s),
            (_, serde_json::Value::Number(n)) => match self.kind {
                Kind::Count { .. } => n.as_u64().and_then(|n| usize::try_from(n).ok()).map(Value::Count),
                Kind::Seed => n.as_u64().map(Value::Seed),
                Kind::Number { .. } => n.as_f64().map(|x| Value::Number(x as f32)),
                Kind::Width { .. } => n.as_f64().map(|x| Value::Width(Some(x as f32))),
                _ => None,
            },
            (Kind::Switch, serde_json::Value::Bool(b)) => Some(Value::Switch(*b)),
            (Kind::Choice(_) | Kind::Stem, serde_json::Value::String(s)) => Some(Value::Name(s.clone())),
            _ => None,
        };
        self.check(value.ok_or_else(|| self.refuse(json))?)
    }

    /// Checks `value` against the kind and range; a whole number is taken
    /// for a real one or a seed, so `Value::Count(3)` sets `w` to 3.
    pub fn check(&self, value: Value) -> Result<Value, SettingError> {
        let ok = match (self.kind, value) {
            (Kind::Count { min, max }, Value::Count(n)) if (min..=max).contains(&n) => Value::Count(n),
            (Kind::Number { min, max }, Value::Number(x)) if x.is_finite() && (min..=max).contains(&x) => {
                Value::Number(x)
            }
            (Kind::Number { .. }, Value::Count(n)) => return self.check(Value::Number(n as f32)),
            (Kind::Width { max }, Value::Width(Some(x))) if x.is_finite() && x > 0.0 && x <= max => {
                Value::Width(Some(x))
            }
            (Kind::Width { .. }, Value::Width(None)) => Value::Width(None),
            (Kind::Width { .. }, Value::Number(x)) => return self.check(Value::Width(Some(x))),
            (Kind::Switch, Value::Switch(b)) => Value::Switch(b),
            (Kind::Choice(names), Value::Name(s)) if names.contains(&s.as_str()) => Value::Name(s),
            (Kind::Stem, Value::Name(s)) if !s.trim().is_empty() => Value::Name(s.trim().to_string()),
            (Kind::Seed, Value::Seed(n)) => Value::Seed(n),
            (Kind::Seed, Value::Count(n)) => Value::Seed(n as u64),
            (_, Value::Name(s)) => return Err(self.refuse(format!("\"{s}\""))),
            (_, other) => return Err(self.refuse(other)),
        };
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::spec;

    fn key(k: &str) -> &'static Spec {
        spec(k).unwrap()
    }

    #[test]
    fn text_json_and_typed_values_meet_the_same_range() {
        let gamma = key("gamma_sources");
        let refusal = "γ (sources) must be a number above 0 and up to 100, or \"inf\", got";
        for err in [
            gamma.parse("0").unwrap_err(),
            gamma.from_json(&serde_json::json!(0.0)).unwrap_err(),
            gamma.check(Value::Width(Some(0.0))).unwrap_err(),
        ] {
            assert!(err.to_string().starts_with(refusal), "{err}");
        }
        assert_eq!(gamma.parse("inf").unwrap(), Value::Width(None));
        assert_eq!(gamma.from_json(&"inf".into()).unwrap(), Value::Width(None));
        assert_eq!(gamma.from_json(&serde_json::json!(0.5)).unwrap(), Value::Width(Some(0.5)));
        assert_eq!(
            key("steps").parse("1").unwrap_err().to_string(),
            "Steps must be a whole number from 2 to 10000, got 1"
        );
        assert!(key("steps").from_json(&serde_json::json!(2.5)).is_err());
        assert_eq!(key("w").check(Value::Count(3)).unwrap(), Value::Number(3.0));
        assert!(key("w").parse("NaN").is_err());
        assert_eq!(key("seed").check(Value::Count(7)).unwrap(), Value::Seed(7));
        assert!(key("sampler").parse("heun").unwrap_err().to_string().contains("one of adpm2, euler, dpmpp2m"));
        assert_eq!(key("wiener").parse("on").unwrap(), Value::Switch(true));
        assert!(key("constrained").parse(" ").is_err());
    }

    #[test]
    fn every_value_survives_json() {
        for s in crate::settings::SETTINGS {
            let value =
                (s.fallback)(crate::settings::TaskKind::Accompany).unwrap_or_else(|| Value::Name("drums".into()));
            assert_eq!(s.from_json(&value.to_json()).unwrap(), value, "{}", s.key);
            assert_eq!(s.parse(&value.to_string()).unwrap(), value, "{}", s.key);
        }
    }
}
