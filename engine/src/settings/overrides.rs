//! The settings a caller (or a model's defaults) sets: checked values by key.

use std::collections::BTreeMap;

use super::vocabulary::{known_keys, spec, Spec};
use super::{SettingError, Value};

/// Checked settings by key; a missing key keeps the next layer's value
/// (the model's default, then the engine's fallback).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides(BTreeMap<&'static str, Value>);

impl Overrides {
    /// The declaration of `key`, or why there is none.
    fn spec_of(key: &str) -> Result<&'static Spec, SettingError> {
        spec(key).ok_or_else(|| SettingError::Unknown { key: key.to_string(), known: known_keys() })
    }

    /// Sets `key` to `value` if the setting accepts it.
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), SettingError> {
        let spec = Self::spec_of(key)?;
        self.0.insert(spec.key, spec.check(value)?);
        Ok(())
    }

    /// Sets `key` from text, as typed on the command line or in a field.
    pub fn set_text(&mut self, key: &str, text: &str) -> Result<(), SettingError> {
        let spec = Self::spec_of(key)?;
        self.0.insert(spec.key, spec.parse(text)?);
        Ok(())
    }

    /// Sets `key` from JSON.
    pub fn set_json(&mut self, key: &str, json: &serde_json::Value) -> Result<(), SettingError> {
        let spec = Self::spec_of(key)?;
        self.0.insert(spec.key, spec.from_json(json)?);
        Ok(())
    }

    /// These overrides with `key` set to `value` (for code and tests).
    pub fn with(mut self, key: &str, value: Value) -> Result<Self, SettingError> {
        self.set(key, value)?;
        Ok(self)
    }

    /// Removes the override of `key` (the default applies again).
    pub fn clear(&mut self, key: &str) {
        if let Some(spec) = spec(key) {
            self.0.remove(spec.key);
        }
    }

    /// The value set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        spec(key).and_then(|s| self.0.get(s.key))
    }

    /// The set values by key, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// A stable text of these overrides (key order, one `key=value` each),
    /// for cache keys and logs.
    pub fn cache_key(&self) -> String {
        self.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";")
    }

    /// As a JSON object.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()
    }
}

impl serde::Serialize for Overrides {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// Strict: an unknown key or a refused value fails the whole object, with
/// the setting's message (as `model.json` `defaults` must).
impl<'de> serde::Deserialize<'de> for Overrides {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut out = Overrides::default();
        for (key, json) in &map {
            if !json.is_null() {
                out.set_json(key, json).map_err(serde::de::Error::custom)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_aliases_and_refusals() {
        let mut o = Overrides::default();
        o.set_text("gamma", "0.5").unwrap();
        assert_eq!(o.get("gamma_sources"), Some(&Value::Width(Some(0.5))));
        let err = o.set("stepz", Value::Count(3)).unwrap_err().to_string();
        assert!(err.starts_with("unknown setting \"stepz\"; known settings: steps, passes, w,"), "{err}");
        assert!(o.set_text("steps", "1").is_err());
        assert_eq!(o.get("steps"), None, "a refused value changes nothing");
        o.set("steps", Value::Count(10)).unwrap();
        o.clear("gamma");
        assert_eq!(o.cache_key(), "steps=10");
    }

    #[test]
    fn json_round_trip_and_strict_reading() {
        let o = Overrides::default()
            .with("steps", Value::Count(10))
            .and_then(|o| o.with("gamma_mix", Value::Width(None)))
            .and_then(|o| o.with("method", Value::Name("ensemble".into())))
            .unwrap();
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(text, r#"{"gamma_mix":"inf","method":"ensemble","steps":10}"#);
        assert_eq!(serde_json::from_str::<Overrides>(&text).unwrap(), o);
        let err = serde_json::from_str::<Overrides>(r#"{"gamma": 0}"#).unwrap_err().to_string();
        assert!(err.contains("γ (sources) must be a number above 0"), "{err}");
        assert_eq!(serde_json::from_str::<Overrides>(r#"{"gamma": null}"#).unwrap(), Overrides::default());
    }
}
