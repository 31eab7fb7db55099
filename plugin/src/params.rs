//! The plugin's parameters (automatable, readable from any thread) and its
//! persisted JSON state.

use std::sync::Arc;

use gmsdi_engine::settings::TaskKind;
use nice_plug::prelude::*;

use crate::state::SharedState;

/// What a `Generate` press runs.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskChoice {
    /// Generate the state's stems under the labelled sidechain sources.
    Accompany,
    /// Split the captured main input into stems.
    Separate,
    /// Pull each chosen stem out of the captured main input, one at a time.
    Extract,
    /// Generate the chosen stems from nothing over the captured region.
    Generate,
}

impl TaskChoice {
    /// The engine's kind of task.
    pub fn kind(self) -> TaskKind {
        match self {
            Self::Accompany => TaskKind::Accompany,
            Self::Separate => TaskKind::Separate,
            Self::Extract => TaskKind::Extract,
            Self::Generate => TaskKind::Generate,
        }
    }

    /// Lower-case name, used in file names and the job history.
    pub fn name(self) -> &'static str {
        self.kind().name()
    }
}

/// What the main output carries.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    /// The main input, unchanged.
    #[name = "Input only"]
    Input,
    /// The main input plus the results playing at their timeline position.
    #[name = "Input + results"]
    InputAndResults,
    /// Only the results.
    #[name = "Results only"]
    Results,
}

/// All parameters and the persisted state.
#[derive(Params)]
pub struct GmsdiParams {
    /// While on and the transport plays, every input is recorded at its timeline position.
    #[id = "capture"]
    pub capture: BoolParam,
    /// Turning it on starts a job on the captured audio (edge-triggered).
    #[id = "generate"]
    pub generate: BoolParam,
    /// What a job does.
    #[id = "task"]
    pub task: EnumParam<TaskChoice>,
    /// What the main output carries.
    #[id = "monitor"]
    pub monitor: EnumParam<Monitor>,
    /// Gain of everything the plugin outputs, in dB.
    #[id = "gain"]
    pub gain_db: FloatParam,
    /// Gain and mute of each result stem (ids `stem_gain_1`, `stem_mute_1`, ...).
    #[nested(array, group = "Results")]
    pub stems: [StemParams; crate::buses::RESULT_OUTPUTS],
    /// The host's bypass: the main input passes unchanged, nothing is
    /// captured or played, result outputs are silent.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// Labels, stems, settings, results and folders.
    #[persist = "gmsdi"]
    pub state: SharedState,
}

impl Default for GmsdiParams {
    fn default() -> Self {
        Self {
            capture: BoolParam::new("Capture", false),
            generate: BoolParam::new("Generate", false),
            task: EnumParam::new("Task", TaskChoice::Accompany),
            monitor: EnumParam::new("Monitor", Monitor::InputAndResults),
            gain_db: decibels("Output Gain".into()),
            stems: std::array::from_fn(|i| StemParams {
                gain_db: decibels(format!("{} Gain", crate::buses::RESULT_NAMES[i])),
                mute: BoolParam::new(format!("{} Mute", crate::buses::RESULT_NAMES[i]), false),
            }),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            state: SharedState::default(),
        }
    }
}

impl GmsdiParams {
    /// The output gain as a factor.
    pub fn gain(&self) -> f32 {
        factor(self.gain_db.value())
    }

    /// Each result stem's gain as a factor (0 when muted).
    pub fn stem_gains(&self) -> [f32; crate::buses::RESULT_OUTPUTS] {
        std::array::from_fn(|i| if self.stems[i].mute.value() { 0.0 } else { factor(self.stems[i].gain_db.value()) })
    }
}

/// Gain and mute of one result stem.
#[derive(Params)]
pub struct StemParams {
    /// Gain of the stem, in dB.
    #[id = "stem_gain"]
    pub gain_db: FloatParam,
    /// Silences the stem on its output and on the main output.
    #[id = "stem_mute"]
    pub mute: BoolParam,
}

/// A gain parameter in dB, -60 to +12, default 0.
fn decibels(name: String) -> FloatParam {
    FloatParam::new(name, 0.0, FloatRange::Linear { min: -60.0, max: 12.0 })
        .with_unit(" dB")
        .with_step_size(0.1)
        .with_value_to_string(Arc::new(tenths))
}

/// A value to one decimal, with no "-0.0" (a host's text round trip would
/// read it back as another value than "0.0").
fn tenths(value: f32) -> String {
    format!("{:.1}", (value * 10.0).round() / 10.0 + 0.0)
}

/// dB as a factor, exactly 1 at 0 dB.
fn factor(db: f32) -> f32 {
    if db == 0.0 {
        1.0
    } else {
        util::db_to_gain(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_show_tenths_of_a_decibel_and_never_minus_zero() {
        assert_eq!(tenths(-0.0014), "0.0");
        assert_eq!(tenths(-0.0), "0.0");
        assert_eq!(tenths(-6.04), "-6.0");
        assert_eq!(tenths(11.96), "12.0");
    }
}
