//! The plugin's buses, in one place: a stereo main input and output, the
//! stereo sources (sidechain inputs) and one stereo output per result stem,
//! with their counts, names and the layouts offered to hosts.

use std::num::NonZeroU32;

use nice_plug::prelude::{new_nonzero_u32, AudioIOLayout, PortNames};

/// Channels of every bus.
pub const CHANNELS: usize = 2;
/// Sidechain inputs ("sources").
pub const SOURCES: usize = 3;
/// Inputs captured: the main input, then the sources.
pub const INPUTS: usize = 1 + SOURCES;
/// Aux outputs in the layout that has them: one per result stem.
pub const RESULT_OUTPUTS: usize = 4;
/// Names of the sources, as hosts and the editor show them.
pub const SOURCE_NAMES: [&str; SOURCES] = ["Source 1", "Source 2", "Source 3"];
/// Names of the result outputs.
pub const RESULT_NAMES: [&str; RESULT_OUTPUTS] = ["Result 1", "Result 2", "Result 3", "Result 4"];

const STEREO: NonZeroU32 = new_nonzero_u32(CHANNELS as u32);

/// Main in/out, the sources and the result outputs: the default layout.
const WITH_RESULTS: AudioIOLayout = AudioIOLayout {
    main_input_channels: Some(STEREO),
    main_output_channels: Some(STEREO),
    aux_input_ports: &[STEREO; SOURCES],
    aux_output_ports: &[STEREO; RESULT_OUTPUTS],
    names: PortNames {
        layout: Some("Main + sources + results"),
        // nice-plug names the main output after `main_input` (bug): leave
        // both unset so they read "Input" and "Output".
        main_input: None,
        main_output: None,
        aux_inputs: &SOURCE_NAMES,
        aux_outputs: &RESULT_NAMES,
    },
};

/// The layouts, default first. The first has the result outputs, so hosts
/// that only read the default buses (JUCE-based ones) can route them;
/// results also play on the main output (Monitor). Hosts may leave the
/// result outputs unconnected: the patched nice-plug (third_party/) still
/// calls `process`. The second layout, without them, is for hosts that
/// want fewer ports.
pub const LAYOUTS: &[AudioIOLayout] = &[
    WITH_RESULTS,
    AudioIOLayout {
        aux_output_ports: &[],
        names: PortNames { layout: Some("Main + sources"), aux_outputs: &[], ..WITH_RESULTS.names },
        ..WITH_RESULTS
    },
];
