//! `model.json`: the manifest of a model folder and its contract checks
//! (models/CONTRACT.md). The ONNX graphs are checked in [`crate::network`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::settings::{Overrides, TaskKind, Value};

/// The only format this engine reads.
pub const FORMAT: &str = "gmsdi-model/1";
const FILE: &str = "model.json";

/// Default prompt and negative prompt of one stem.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StemPrompts {
    /// Text that describes the stem alone, e.g. "bass".
    pub prompt: String,
    /// Negative prompt used for classifier-free guidance ("" = null embedding).
    pub negative: String,
}

/// Defaults per task, in the settings vocabulary ([`crate::settings::SETTINGS`]);
/// an unknown setting or a refused value breaks the contract.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// `gmsdi separate`.
    #[serde(default)]
    pub separate: Overrides,
    /// `gmsdi extract`.
    #[serde(default)]
    pub extract: Overrides,
    /// `gmsdi accompany`.
    #[serde(default)]
    pub accompany: Overrides,
    /// `gmsdi generate`.
    #[serde(default)]
    pub generate: Overrides,
}

/// A parsed and checked `model.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    /// Must be [`FORMAT`].
    pub format: String,
    /// Display name.
    pub name: String,
    /// Optional version string.
    #[serde(default)]
    pub version: Option<String>,
    /// Optional licence of the weights.
    #[serde(default)]
    pub licence: Option<String>,
    /// Rate of the denoiser in Hz.
    pub sample_rate: u32,
    /// Channel count C of the denoiser.
    pub channels: usize,
    /// Trained window length T in samples.
    pub window: usize,
    /// Every T given to the denoiser is a multiple of this.
    pub length_multiple: usize,
    /// Smallest σ of the schedule.
    pub sigma_min: f32,
    /// Largest σ of the schedule.
    pub sigma_max: f32,
    /// Standard deviation of the training data.
    pub sigma_data: f32,
    /// Denoiser file name.
    pub denoiser: String,
    /// Optional denoiser for the CPU (e.g. quantized to int8): the same ports
    /// and behaviour as `denoiser`, which GPU providers keep.
    #[serde(default)]
    pub denoiser_cpu: Option<String>,
    /// Text encoder file name.
    pub text_encoder: String,
    /// Tokenizer file name.
    pub tokenizer: String,
    /// Embedding size D.
    pub embedding_dim: usize,
    /// The learned null embedding z*.
    pub null_embedding: Vec<f32>,
    /// How stem labels are joined into one prompt.
    pub label_separator: String,
    /// Stem name → default prompts, in file order.
    pub stems: BTreeMap<String, StemPrompts>,
    /// RMS level the model was trained at, if it wants inputs normalised.
    #[serde(default)]
    pub input_rms: Option<f32>,
    /// File name → sha256 (lowercase hex).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Default settings per task.
    #[serde(default)]
    pub defaults: Defaults,
}

impl Manifest {
    /// Reads `dir/model.json` and checks every rule of the contract that the
    /// manifest alone can tell, including the file hashes.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| EngineError::contract(FILE, format!("cannot read {}: {e}", path.display())))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| EngineError::contract(FILE, format!("not valid JSON: {e}")))?;
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| EngineError::contract(FILE, e.to_string()))?;
        manifest.check()?;
        manifest.check_files(dir)?;
        Ok(manifest)
    }

    fn check(&self) -> Result<()> {
        let rule = |ok: bool, text: &str| {
            if ok {
                Ok(())
            } else {
                Err(EngineError::contract(FILE, text))
            }
        };
        rule(self.format == FORMAT, &format!("`format` must be \"{FORMAT}\", found \"{}\"", self.format))?;
        rule(self.sample_rate > 0, "`sample_rate` must be > 0")?;
        rule(self.channels > 0, "`channels` must be > 0")?;
        rule(self.length_multiple > 0, "`length_multiple` must be > 0")?;
        rule(
            self.window > 0 && self.window.is_multiple_of(self.length_multiple),
            "`window` must be > 0 and a multiple of `length_multiple`",
        )?;
        rule(
            self.sigma_min.is_finite()
                && self.sigma_max.is_finite()
                && self.sigma_min > 0.0
                && self.sigma_min < self.sigma_max,
            "`sigma_min` and `sigma_max` must be finite with 0 < sigma_min < sigma_max",
        )?;
        rule(self.sigma_data.is_finite() && self.sigma_data > 0.0, "`sigma_data` must be finite and > 0")?;
        rule(self.embedding_dim > 0, "`embedding_dim` must be > 0")?;
        rule(
            self.null_embedding.len() == self.embedding_dim,
            &format!(
                "`null_embedding` has {} values but `embedding_dim` is {}",
                self.null_embedding.len(),
                self.embedding_dim
            ),
        )?;
        rule(self.null_embedding.iter().all(|v| v.is_finite()), "`null_embedding` holds a non-finite value")?;
        rule(!self.stems.is_empty(), "`stems` must name at least one stem")?;
        for stem in self.stems.keys() {
            rule(
                is_file_name_stem(stem),
                &format!(
                    "stem name \"{stem}\" must work as a file name everywhere: 1–64 letters, digits, \
                     spaces, '-', '_' or '+', not a Windows device name (CON, NUL, COM1, …)"
                ),
            )?;
        }
        rule(self.input_rms.is_none_or(|r| r.is_finite() && r > 0.0), "`input_rms` must be finite and > 0")?;
        for (key, name) in self.model_files() {
            rule(
                is_plain_relative(name),
                &format!("`{key}` must be a file name inside the model folder, found \"{name}\""),
            )?;
        }
        for (task, d) in [
            ("separate", &self.defaults.separate),
            ("extract", &self.defaults.extract),
            ("accompany", &self.defaults.accompany),
            ("generate", &self.defaults.generate),
        ] {
            if let Some(Value::Name(stem)) = d.get("constrained") {
                rule(
                    self.stems.contains_key(stem),
                    &format!("`defaults.{task}.constrained` names unknown stem \"{stem}\""),
                )?;
            }
        }
        Ok(())
    }

    /// The denoiser file that runs on the CPU: `denoiser_cpu` if given,
    /// unless `full_precision` asks for `denoiser`.
    pub fn cpu_denoiser(&self, full_precision: bool) -> &str {
        match &self.denoiser_cpu {
            Some(file) if !full_precision => file,
            _ => &self.denoiser,
        }
    }

    /// The model's files with their keys: denoiser(s), text encoder, tokenizer.
    fn model_files(&self) -> Vec<(&'static str, &String)> {
        let mut files = vec![("denoiser", &self.denoiser)];
        files.extend(self.denoiser_cpu.as_ref().map(|f| ("denoiser_cpu", f)));
        files.extend([("text_encoder", &self.text_encoder), ("tokenizer", &self.tokenizer)]);
        files
    }

    fn check_files(&self, dir: &Path) -> Result<()> {
        for (_, name) in self.model_files() {
            if !dir.join(name).is_file() {
                return Err(EngineError::contract(name.as_str(), "file is missing from the model folder"));
            }
        }
        for (name, expected) in &self.files {
            if !is_plain_relative(name) {
                return Err(EngineError::contract(FILE, format!("`files` names \"{name}\" outside the model folder")));
            }
            let bytes = std::fs::read(dir.join(name)).map_err(|e| {
                EngineError::contract(name.as_str(), format!("listed in `files` but cannot be read: {e}"))
            })?;
            let actual = hex(&Sha256::digest(&bytes));
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(EngineError::contract(
                    name.as_str(),
                    format!("sha256 is {actual}, model.json says {expected} (file changed or corrupt)"),
                ));
            }
        }
        Ok(())
    }

    /// Path of a file of the model.
    pub fn path(dir: &Path, name: &str) -> PathBuf {
        dir.join(name)
    }

    /// The stem's prompts, or a clear error listing the known stems.
    pub fn stem(&self, stem: &str) -> Result<&StemPrompts> {
        self.stems.get(stem).ok_or_else(|| EngineError::UnknownStem {
            stem: stem.to_string(),
            known: self.stems.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// The model's defaults for one kind of task.
    pub fn task_defaults(&self, kind: TaskKind) -> &Overrides {
        match kind {
            TaskKind::Separate => &self.defaults.separate,
            TaskKind::Extract => &self.defaults.extract,
            TaskKind::Accompany => &self.defaults.accompany,
            TaskKind::Generate => &self.defaults.generate,
        }
    }
}

/// Whether a stem name can name its result file (`<stem>.wav`) on Linux,
/// macOS and Windows: 1–64 letters, digits, spaces, `-`, `_` or `+`, not
/// starting or ending with a space, and not a Windows device name.
fn is_file_name_stem(name: &str) -> bool {
    const DEVICES: &[&str] = &["CON", "PRN", "AUX", "NUL"];
    let upper = name.to_ascii_uppercase();
    let device = DEVICES.contains(&upper.as_str())
        || (upper.len() == 4
            && (upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.as_bytes()[3].is_ascii_digit());
    (1..=64).contains(&name.chars().count())
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '+'))
        && name.trim() == name
        && !device
}

fn is_plain_relative(name: &str) -> bool {
    let p = Path::new(name);
    !name.is_empty() && p.is_relative() && p.components().all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
