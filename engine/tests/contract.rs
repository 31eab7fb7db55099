//! The model contract (models/CONTRACT.md) as the engine checks it at load
//! time: temp copies of the fixture model with exactly one thing broken must
//! be refused with an error that names the file and the rule.

mod common;

use std::path::Path;

use common::{broken_dir, fixture_dir};
use gmsdi_engine::network::Model;
use gmsdi_engine::runtime::{Provider, RuntimeOptions};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// A temporary copy of the fixture model.
struct Copy(TempDir);

impl Copy {
    fn new() -> Copy {
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(fixture_dir()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
        Copy(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn manifest(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path().join("model.json")).unwrap()).unwrap()
    }

    /// Rewrites model.json after `f` changes it.
    fn edit(&self, f: impl FnOnce(&mut Value)) -> &Self {
        let mut v = self.manifest();
        f(&mut v);
        std::fs::write(self.path().join("model.json"), serde_json::to_string_pretty(&v).unwrap()).unwrap();
        self
    }

    /// Replaces the model's file `name` by `models/fixtures/broken/<broken>`
    /// and updates its hash in `files`, so only the rule under test breaks.
    fn swap(&self, name: &str, broken: &str) -> &Self {
        std::fs::copy(broken_dir().join(broken), self.path().join(name)).unwrap();
        self.rehash()
    }

    /// Recomputes every hash listed in `files`.
    fn rehash(&self) -> &Self {
        let dir = self.path().to_path_buf();
        self.edit(|v| {
            for (name, hash) in v["files"].as_object_mut().unwrap() {
                let bytes = std::fs::read(dir.join(name)).unwrap();
                let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                *hash = Value::String(digest);
            }
        })
    }

    /// The load error's message; panics if the model loads.
    fn error(&self) -> String {
        match Model::load(self.path(), &RuntimeOptions::default()) {
            Ok(_) => panic!("the broken model in {} loaded", self.path().display()),
            Err(e) => e.to_string(),
        }
    }

    /// Asserts that loading fails naming `file` and containing every `rule` part.
    fn refused(&self, file: &str, rule: &[&str]) -> String {
        let msg = self.error();
        assert!(msg.starts_with(&format!("model contract: {file}: ")), "error should name {file}: {msg}");
        for part in rule {
            assert!(msg.contains(part), "error lacks {part:?}: {msg}");
        }
        assert!(!msg.contains('\n'), "error should be one line: {msg:?}");
        msg
    }
}

const REQUIRED: [&str; 16] = [
    "format",
    "name",
    "sample_rate",
    "channels",
    "window",
    "length_multiple",
    "sigma_min",
    "sigma_max",
    "sigma_data",
    "denoiser",
    "text_encoder",
    "tokenizer",
    "null_embedding",
    "embedding_dim",
    "label_separator",
    "stems",
];

#[test]
fn the_good_fixture_loads() {
    let m = Model::load(&fixture_dir(), &RuntimeOptions::default()).expect("the fixture loads");
    assert_eq!(m.manifest.name, "gaussian-fixture");
    assert_eq!(m.manifest.embedding_dim, 5);
    assert_eq!(m.manifest.stems.keys().collect::<Vec<_>>(), ["bass", "drums", "guitar", "piano"]);
    assert_eq!(m.provider, Provider::Cpu);
    assert!(m.provider_warning.is_none());
    // A copy with its hashes recomputed loads too (the harness itself is sound).
    let c = Copy::new();
    c.rehash();
    Model::load(c.path(), &RuntimeOptions::default()).map(drop).expect("a faithful copy loads");
}

#[test]
fn missing_model_json() {
    let c = Copy::new();
    std::fs::remove_file(c.path().join("model.json")).unwrap();
    c.refused("model.json", &["cannot read"]);
}

#[test]
fn invalid_json() {
    let c = Copy::new();
    std::fs::write(c.path().join("model.json"), "{\"format\": \"gmsdi-model/1\",").unwrap();
    c.refused("model.json", &["not valid JSON"]);
}

#[test]
fn wrong_format() {
    let c = Copy::new();
    c.edit(|v| v["format"] = json!("gmsdi-model/2"));
    c.refused("model.json", &["`format` must be \"gmsdi-model/1\"", "gmsdi-model/2"]);
}

#[test]
fn each_required_key_missing() {
    for key in REQUIRED {
        let c = Copy::new();
        c.edit(|v| {
            v.as_object_mut().unwrap().remove(key).expect("the fixture has the key");
        });
        c.refused("model.json", &[&format!("missing field `{key}`")]);
    }
}

#[test]
fn wrong_types_and_values_of_keys() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("sample_rate", json!("8000"), "invalid type"),
        ("sample_rate", json!(0), "`sample_rate` must be > 0"),
        ("channels", json!(0), "`channels` must be > 0"),
        ("length_multiple", json!(0), "`length_multiple` must be > 0"),
        ("window", json!(0), "`window` must be > 0"),
        ("sigma_data", json!(0.0), "`sigma_data` must be finite and > 0"),
        ("embedding_dim", json!(0), "`embedding_dim` must be > 0"),
        ("stems", json!({}), "`stems` must name at least one stem"),
        ("stems", json!({"bass": {"prompt": "bass"}}), "missing field `negative`"),
        ("input_rms", json!(-1.0), "`input_rms` must be finite and > 0"),
    ];
    for (key, value, rule) in cases {
        let c = Copy::new();
        c.edit(|v| v[key] = value.clone());
        c.refused("model.json", &[rule]);
    }
}

/// Stem names become file names (`<stem>.wav`): refused where some system
/// cannot write them (a separator, `:`, a Windows device name, a trailing
/// space), accepted with spaces, `-` and `+`.
#[test]
fn stem_names_must_work_as_file_names_everywhere() {
    let prompts = json!({"prompt": "x", "negative": ""});
    for bad in ["hi/hat", "a\\b", "hi:hat", "NUL", "com1", "lead ", "", "a.wav"] {
        let c = Copy::new();
        c.edit(|v| v["stems"] = json!({ bad: prompts.clone() }));
        c.refused("model.json", &[&format!("stem name \"{bad}\" must work as a file name everywhere")]);
    }
    let c = Copy::new();
    c.edit(|v| v["stems"] = json!({"lead vox": prompts.clone(), "hi-hat": prompts.clone(), "bass+kick": prompts.clone(), "console": prompts.clone()}));
    Model::load(c.path(), &RuntimeOptions::default()).map(drop).expect("stems with spaces, '-' and '+' load");
}

#[test]
fn null_embedding_of_the_wrong_length() {
    let c = Copy::new();
    c.edit(|v| v["null_embedding"] = json!([0.0, 0.0, 0.0, 1.0]));
    c.refused("model.json", &["`null_embedding` has 4 values but `embedding_dim` is 5"]);
}

#[test]
fn non_finite_null_embedding() {
    // JSON has no NaN or infinity, and serde_json refuses 1e999 as out of
    // range; 1e39 is a finite f64 that becomes +inf as the manifest's f32.
    let c = Copy::new();
    std::fs::write(c.path().join("model.json"), "{\"x\": 1e999}").unwrap();
    let msg = c.refused("model.json", &["not valid JSON"]);
    assert!(msg.contains("out of range"), "{msg}");
    let c = Copy::new();
    c.edit(|v| v["null_embedding"] = json!([0.0, 0.0, 0.0, 0.0, 1e39]));
    c.refused("model.json", &["`null_embedding` holds a non-finite value"]);
}

#[test]
fn sigma_min_not_below_sigma_max() {
    for (lo, hi) in [(3.0, 3.0), (3.0, 1.0), (0.0, 3.0), (0.001, 1e39)] {
        let c = Copy::new();
        c.edit(|v| {
            v["sigma_min"] = json!(lo);
            v["sigma_max"] = json!(hi);
        });
        c.refused("model.json", &["0 < sigma_min < sigma_max"]);
    }
}

#[test]
fn window_not_a_multiple_of_length_multiple() {
    let c = Copy::new();
    c.edit(|v| v["length_multiple"] = json!(3));
    c.refused("model.json", &["`window` must be > 0 and a multiple of `length_multiple`"]);
}

#[test]
fn file_names_outside_the_folder() {
    for key in ["denoiser", "denoiser_cpu", "text_encoder", "tokenizer"] {
        for name in ["../denoiser.onnx", "/etc/passwd", "sub/../denoiser.onnx", ""] {
            let c = Copy::new();
            c.edit(|v| v[key] = json!(name));
            c.refused("model.json", &[&format!("`{key}` must be a file name inside the model folder")]);
        }
    }
    let c = Copy::new();
    c.edit(|v| v["files"]["../model.json"] = json!("00"));
    c.refused("model.json", &["`files` names \"../model.json\" outside the model folder"]);
}

#[test]
fn files_hash_mismatch() {
    // One byte of whitespace more in tokenizer.json.
    let c = Copy::new();
    let path = c.path().join("tokenizer.json");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(b'\n');
    std::fs::write(&path, bytes).unwrap();
    c.refused("tokenizer.json", &["sha256 is", "model.json says", "8e1d1e58"]);
    // A wrong hash in model.json for an unchanged file.
    let c = Copy::new();
    c.edit(|v| v["files"]["denoiser.onnx"] = json!("0".repeat(64)));
    c.refused("denoiser.onnx", &["sha256", "changed or corrupt"]);
    // A listed file that does not exist.
    let c = Copy::new();
    c.edit(|v| v["files"]["weights.bin"] = json!("0".repeat(64)));
    c.refused("weights.bin", &["listed in `files` but cannot be read"]);
}

#[test]
fn listed_files_missing() {
    for file in ["denoiser.onnx", "text_encoder.onnx", "tokenizer.json"] {
        let c = Copy::new();
        std::fs::remove_file(c.path().join(file)).unwrap();
        c.refused(file, &["file is missing from the model folder"]);
    }
}

#[test]
fn the_cpu_denoiser_runs_on_the_cpu_unless_full_precision_is_asked() {
    let full = RuntimeOptions { full_precision: true, ..RuntimeOptions::default() };
    let c = Copy::new();
    std::fs::copy(c.path().join("denoiser.onnx"), c.path().join("denoiser_int8.onnx")).unwrap();
    c.edit(|v| v["denoiser_cpu"] = json!("denoiser_int8.onnx"));
    let mut m = Model::load(c.path(), &RuntimeOptions::default()).unwrap();
    assert_eq!(m.denoiser_file, "denoiser_int8.onnx");
    // A job's `cpu_denoiser` setting switches between the two, both ways.
    m.use_cpu_denoiser(false).unwrap();
    assert_eq!(m.denoiser_file, "denoiser.onnx");
    m.use_cpu_denoiser(true).unwrap();
    assert_eq!(m.denoiser_file, "denoiser_int8.onnx");
    let mut m = Model::load(c.path(), &full).unwrap();
    assert_eq!(m.denoiser_file, "denoiser.onnx");
    m.use_cpu_denoiser(true).unwrap();
    assert_eq!(m.denoiser_file, "denoiser.onnx", "full precision wins over the setting");
    // A broken CPU denoiser is refused by name; the full-precision one still loads.
    c.swap("denoiser_int8.onnx", "denoiser_wrong_dim.onnx");
    c.refused("denoiser_int8.onnx", &["dimension 1 of input `embedding` must be 5, found 6"]);
    assert_eq!(Model::load(c.path(), &full).unwrap().denoiser_file, "denoiser.onnx");
    let c = Copy::new();
    c.edit(|v| v["denoiser_cpu"] = json!("denoiser_int8.onnx"));
    c.refused("denoiser_int8.onnx", &["file is missing from the model folder"]);
    // Ports that differ (one has the `context` input) are refused when a job switches.
    let c = Copy::new();
    std::fs::copy(broken_dir().join("denoiser_with_context.onnx"), c.path().join("denoiser_int8.onnx")).unwrap();
    c.edit(|v| v["denoiser_cpu"] = json!("denoiser_int8.onnx"));
    let mut m = Model::load(c.path(), &RuntimeOptions::default()).unwrap();
    let msg = m.use_cpu_denoiser(false).unwrap_err().to_string();
    let want = "model contract: denoiser.onnx: lacks the `context` input, which denoiser_int8.onnx has";
    assert!(msg.starts_with(want), "{msg}");
    assert_eq!(m.denoiser_file, "denoiser_int8.onnx", "the model keeps running its CPU denoiser");
}

#[test]
fn broken_denoisers() {
    let cases = [
        ("denoiser_wrong_input_name.onnx", vec!["has no input named `x`", "it has: y"]),
        ("denoiser_wrong_dtype.onnx", vec!["input `x` must be Float32", "Float64"]),
        ("denoiser_wrong_dim.onnx", vec!["dimension 1 of input `embedding` must be 5, found 6"]),
        ("denoiser_missing_output.onnx", vec!["has no output named `denoised`", "it has: out"]),
        ("not_onnx.onnx", vec!["ONNX Runtime cannot load it"]),
    ];
    for (broken, rule) in cases {
        let c = Copy::new();
        c.swap("denoiser.onnx", broken);
        c.refused("denoiser.onnx", &rule);
    }
}

#[test]
fn broken_text_encoders() {
    let cases = [
        ("text_encoder_wrong_dim.onnx", vec!["dimension 1 of output `embedding` must be 5, found 6"]),
        ("not_onnx.onnx", vec!["ONNX Runtime cannot load it"]),
        // A denoiser is no text encoder: its inputs are not input_ids and attention_mask.
        ("denoiser_wrong_input_name.onnx", vec!["has no input named `input_ids`"]),
    ];
    for (broken, rule) in cases {
        let c = Copy::new();
        c.swap("text_encoder.onnx", broken);
        c.refused("text_encoder.onnx", &rule);
    }
}

#[test]
fn broken_tokenizer() {
    let c = Copy::new();
    std::fs::write(c.path().join("tokenizer.json"), "{\"not\": \"a tokenizer\"}").unwrap();
    c.rehash();
    c.refused("tokenizer.json", &["not a valid tokenizers file"]);
}

#[test]
fn manifest_disagrees_with_the_graphs() {
    let c = Copy::new();
    c.edit(|v| {
        v["embedding_dim"] = json!(6);
        v["null_embedding"] = json!([0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    });
    c.refused("denoiser.onnx", &["dimension 1 of input `embedding` must be 6, found 5"]);
    let c = Copy::new();
    c.edit(|v| v["channels"] = json!(2));
    c.refused("denoiser.onnx", &["dimension 1 of input `x` must be 2, found 1"]);
}

#[test]
fn unknown_key_in_defaults() {
    let c = Copy::new();
    c.edit(|v| v["defaults"] = json!({"separate": {"steps": 10, "stepz": 4}}));
    c.refused("model.json", &["unknown setting \"stepz\"; known settings: steps, passes, w,"]);
    let c = Copy::new();
    c.edit(|v| v["defaults"] = json!({"accompany": {"gamma": 0}}));
    c.refused("model.json", &["γ (sources) must be a number above 0"]);
    let c = Copy::new();
    c.edit(|v| v["defaults"] = json!({"separation": {"steps": 10}}));
    c.refused("model.json", &["unknown field `separation`"]);
    let c = Copy::new();
    c.edit(|v| v["defaults"] = json!({"separate": {"constrained": "flute"}}));
    c.refused("model.json", &["`defaults.separate.constrained` names unknown stem \"flute\""]);
    // Known names with sensible values load; unknown top-level keys are ignored.
    let c = Copy::new();
    c.edit(|v| {
        v["defaults"] = json!({"separate": {"steps": 10, "method": "ensemble", "constrained": "drums"}});
        v["my_metadata"] = json!({"anything": [1, 2, 3]});
    });
    Model::load(c.path(), &RuntimeOptions::default()).map(drop).expect("valid defaults load");
}
