//! Settings as a saved project holds them: the overrides this version
//! accepts, plus the entries it refuses (a value out of range, a setting
//! it does not know, e.g. from a newer version) kept verbatim, so that
//! loading and saving again loses nothing and the refusals can be shown.

use std::collections::BTreeMap;

use super::{spec, Overrides, SettingError, Value};

/// Stored settings: accepted overrides and refused entries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredSettings {
    /// The accepted overrides, which jobs use.
    pub overrides: Overrides,
    /// Entries refused on reading, by key, as they were stored.
    refused: BTreeMap<String, serde_json::Value>,
}

impl StoredSettings {
    /// Sets a setting (replacing a refused entry of the same key).
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), SettingError> {
        self.overrides.set(key, value)?;
        self.forget_refused(key);
        Ok(())
    }

    /// Removes a setting, refused or not: the default applies again.
    pub fn clear(&mut self, key: &str) {
        self.overrides.clear(key);
        self.forget_refused(key);
    }

    /// Drops refused entries stored under `key` or another name of its setting.
    fn forget_refused(&mut self, key: &str) {
        let canonical = spec(key).map(|s| s.key);
        self.refused.retain(|k, _| k != key && (canonical.is_none() || spec(k).map(|s| s.key) != canonical));
    }

    /// Each refused entry's key and why it was refused.
    pub fn refusals(&self) -> Vec<(String, SettingError)> {
        let why = |k: &String, v| Overrides::default().set_json(k, v).err().map(|e| (k.clone(), e));
        self.refused.iter().filter_map(|(k, v)| why(k, v)).collect()
    }

    /// Takes a refused entry out (to move a key that now lives elsewhere).
    pub fn take_refused(&mut self, key: &str) -> Option<serde_json::Value> {
        self.refused.remove(key)
    }
}

impl serde::Serialize for StoredSettings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = self.overrides.to_json();
        map.extend(self.refused.iter().map(|(k, v)| (k.clone(), v.clone())));
        map.serialize(serializer)
    }
}

/// Lenient: every entry is read on its own; refused ones are kept aside.
impl<'de> serde::Deserialize<'de> for StoredSettings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut out = StoredSettings::default();
        for (key, json) in map {
            if !json.is_null() && out.overrides.set_json(&key, &json).is_err() {
                out.refused.insert(key, json);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_entries_are_kept_reported_and_replaced() {
        let text = r#"{"steps": 10, "gamma": 0, "provider": "cuda"}"#;
        let mut s: StoredSettings = serde_json::from_str(text).unwrap();
        assert_eq!(s.overrides.get("steps"), Some(&Value::Count(10)));
        let messages: Vec<String> = s.refusals().iter().map(|(_, e)| e.to_string()).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("γ (sources) must be a number above 0"), "{messages:?}");
        assert!(messages[1].starts_with("unknown setting \"provider\""), "{messages:?}");
        let again: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(again, serde_json::from_str::<serde_json::Value>(text).unwrap(), "nothing is lost");
        assert_eq!(s.take_refused("provider"), Some("cuda".into()));
        s.set("gamma", Value::Width(Some(0.5))).unwrap();
        assert!(s.refusals().is_empty());
    }

    #[test]
    fn clearing_a_setting_forgets_its_refused_entries_under_any_name_and_no_others() {
        let text = r#"{"gamma": 0, "steps": 0, "provider": "cuda", "w": 2}"#;
        let mut s: StoredSettings = serde_json::from_str(text).unwrap();
        let refused = |s: &StoredSettings| s.refusals().into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(refused(&s), ["gamma", "provider", "steps"]);
        s.clear("gamma_sources"); // the setting "gamma" is an older name of
        assert_eq!(refused(&s), ["provider", "steps"]);
        s.clear("provider"); // a key no setting has: only its own entry goes
        assert_eq!(refused(&s), ["steps"]);
        s.clear("w");
        assert_eq!((s.overrides.get("w"), refused(&s)), (None, vec!["steps".to_string()]));
    }
}
