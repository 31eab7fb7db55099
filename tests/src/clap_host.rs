//! A minimal single-threaded CLAP host on `clack-host` for testing the
//! plugin: builds the plugin library, loads it, lists ports, sets
//! parameters through events, processes blocks with a transport, saves
//! and loads state, and offers the gui extension so the editor can be
//! embedded in a window of the test's own.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use clack_extensions::audio_ports::{AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::gui::{GuiSize, HostGui, HostGuiImpl, PluginGui};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{ParamValueEvent, TransportEvent, TransportFlags};
use clack_host::events::{EventFlags, EventHeader, Pckn};
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, ClapId, SecondsTime};

/// The plugin's CLAP id.
pub const PLUGIN_ID: &str = "org.gmsdi.gmsdi";

/// Builds the plugin library once per test process (debug, with nice-plug's
/// `assert_process_allocs`, so any allocation in `process` aborts the test)
/// and returns its path. It is built in the tests' own target folder under
/// its own file name (`-C extra-filename`), so it neither clobbers the
/// plain `libgmsdi_plugin` nor rebuilds any dependency but nice-plug.
pub fn plugin_library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| build_plugin(false))
}

/// The plugin library as users get it (release, no allocation checks),
/// built once per process under its own file name: for benchmarks.
pub fn release_plugin_library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| build_plugin(true))
}

/// Builds the plugin's cdylib in the running executable's target folder.
fn build_plugin(release: bool) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/<test> → <target>
    let target = exe.ancestors().nth(3).expect("target folder").to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (profile, suffix) = if release { ("release", "bench") } else { ("debug", "alloccheck") };
    let mut command = Command::new(cargo);
    command.args(["rustc", "-p", "gmsdi-plugin", "--lib", "--crate-type", "cdylib"]);
    if release {
        command.arg("--release");
    } else {
        command.args(["--features", "assert_process_allocs"]);
    }
    let status = command
        .args(["--", "-C", &format!("extra-filename=-{suffix}")])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(crate::repo())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the plugin failed");
    let name = format!("{}gmsdi_plugin-{suffix}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let lib = target.join(profile).join("deps").join(name);
    assert!(lib.is_file(), "{} missing", lib.display());
    lib
}

/// The ONNX Runtime library set up by `cargo xtask setup`, announced to
/// the engine through `GMSDI_ORT_LIB` (set once, before any plugin thread runs).
pub fn use_repo_onnxruntime() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        let lib = crate::repo().join("target/onnxruntime/libonnxruntime.so");
        let lib = std::fs::canonicalize(&lib).unwrap_or(lib);
        std::env::set_var("GMSDI_ORT_LIB", lib);
    });
}

/// Host callbacks: only main-thread callback requests are recorded.
pub struct Shared {
    callback: AtomicBool,
}

impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callback.store(true, Ordering::Release);
    }
}

/// The gui extension of a host whose parent window has a fixed size:
/// resize requests are refused, show and hide requests are granted.
impl HostGuiImpl for Shared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _: GuiSize) -> Result<(), HostError> {
        Err(HostError::Message("the test's parent window has a fixed size"))
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

/// The host's handler types.
pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Shared) {
        builder.register::<HostGui>();
    }
}

/// Transport of one block: timeline position in samples and play state.
#[derive(Clone, Copy, Debug)]
pub struct Transport {
    /// Timeline position of the block's first sample.
    pub pos: i64,
    /// Whether the transport plays.
    pub playing: bool,
}

/// A port's name and channel count.
pub type Port = (String, u32);

/// A loaded plugin instance, driven from one thread.
pub struct Instance {
    // Field order matters: the instance must drop before its entry.
    processor: Option<StartedPluginAudioProcessor<TestHost>>,
    instance: PluginInstance<TestHost>,
    _entry: PluginEntry,
    rate: f64,
    pending: Vec<ParamValueEvent>,
    /// Channel layout of the active configuration: (inputs, outputs) per port.
    layout: (Vec<u32>, Vec<u32>),
    /// Pass only the main input and output ports to `process`.
    main_ports_only: bool,
}

impl Instance {
    /// Loads the plugin library and creates an instance, with the
    /// repository's ONNX Runtime library.
    pub fn new(library: &Path) -> Instance {
        use_repo_onnxruntime();
        Self::bare(library)
    }

    /// Loads the plugin library and creates an instance, leaving the
    /// plugin to find ONNX Runtime and its model by itself.
    pub fn bare(library: &Path) -> Instance {
        // SAFETY: the library is our own plugin, built for this test.
        let entry = unsafe { PluginEntry::load(library) }.expect("plugin entry loads");
        let host = HostInfo::new("gmsdi-test", "gmsdi", "https://example.org", "0.1").unwrap();
        let id = CString::new(PLUGIN_ID).unwrap();
        let instance = PluginInstance::<TestHost>::new(
            |_| Shared { callback: AtomicBool::new(false) },
            |_| (),
            &entry,
            &id,
            &host,
        )
        .expect("plugin instance");
        Instance {
            processor: None,
            instance,
            _entry: entry,
            rate: 0.0,
            pending: Vec::new(),
            layout: (vec![], vec![]),
            main_ports_only: false,
        }
    }

    /// Input and output ports of the current configuration.
    pub fn ports(&mut self) -> (Vec<Port>, Vec<Port>) {
        let ext: PluginAudioPorts = self.instance.plugin_shared_handle().get_extension().expect("audio-ports");
        let handle = self.instance.plugin_handle();
        let list = |is_input: bool| {
            let mut buffer = AudioPortInfoBuffer::new();
            (0..ext.count(&handle, is_input))
                .map(|i| {
                    let info = ext.get(&handle, i, is_input, &mut buffer).expect("port info");
                    (String::from_utf8_lossy(info.name).into_owned(), info.channel_count)
                })
                .collect::<Vec<_>>()
        };
        (list(true), list(false))
    }

    /// Names of the audio-port configurations.
    pub fn configs(&mut self) -> Vec<String> {
        let ext: PluginAudioPortsConfig =
            self.instance.plugin_shared_handle().get_extension().expect("audio-ports-config");
        let handle = self.instance.plugin_handle();
        let mut buffer = AudioPortsConfigBuffer::new();
        (0..ext.count(&handle))
            .map(|i| String::from_utf8_lossy(ext.get(&handle, i, &mut buffer).expect("config").name).into_owned())
            .collect()
    }

    /// Selects audio-port configuration `index` (while inactive).
    pub fn select_config(&mut self, index: u32) {
        let ext: PluginAudioPortsConfig =
            self.instance.plugin_shared_handle().get_extension().expect("audio-ports-config");
        let mut buffer = AudioPortsConfigBuffer::new();
        let handle = self.instance.plugin_handle();
        let id = ext.get(&handle, index, &mut buffer).expect("config").id;
        ext.select(&self.instance.plugin_handle(), id).expect("config selected");
    }

    /// Activates at `rate` with blocks of at most `max_block` frames and starts processing.
    pub fn activate(&mut self, rate: f64, max_block: u32) {
        let (inputs, outputs) = self.ports();
        let ports = if self.main_ports_only { 1 } else { usize::MAX };
        self.layout =
            (inputs.iter().take(ports).map(|p| p.1).collect(), outputs.iter().take(ports).map(|p| p.1).collect());
        let config = PluginAudioConfiguration { sample_rate: rate, min_frames_count: 1, max_frames_count: max_block };
        let stopped = self.instance.activate(|_, _| (), config).expect("activate");
        self.processor = Some(stopped.start_processing().expect("start processing"));
        self.rate = rate;
    }

    /// From the next activation on, `process` passes only the main ports
    /// (as a host that connects no sidechain and no aux output does).
    pub fn connect_main_ports_only(&mut self) {
        self.main_ports_only = true;
    }

    /// Stops processing and deactivates.
    pub fn deactivate(&mut self) {
        if let Some(p) = self.processor.take() {
            self.instance.deactivate(p.stop_processing());
        }
    }

    /// The plugin's gui extension, with the main-thread handle its calls take.
    pub fn gui(&mut self) -> (PluginGui, PluginMainThreadHandle<'_>) {
        let gui = self.instance.plugin_shared_handle().get_extension().expect("gui");
        (gui, self.instance.plugin_handle())
    }

    /// The CLAP id of the parameter named `name`.
    pub fn param_id(&mut self, name: &str) -> ClapId {
        let ext: PluginParams = self.instance.plugin_shared_handle().get_extension().expect("params");
        let handle = self.instance.plugin_handle();
        let mut buffer = ParamInfoBuffer::new();
        (0..ext.count(&handle))
            .filter_map(|i| ext.get_info(&handle, i, &mut buffer).map(|info| (info.id, info.name.to_vec())))
            .find(|(_, n)| String::from_utf8_lossy(n).trim_end_matches('\0') == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
            .0
    }

    /// Names of all parameters.
    pub fn param_names(&mut self) -> Vec<String> {
        let ext: PluginParams = self.instance.plugin_shared_handle().get_extension().expect("params");
        let handle = self.instance.plugin_handle();
        let mut buffer = ParamInfoBuffer::new();
        (0..ext.count(&handle))
            .filter_map(|i| ext.get_info(&handle, i, &mut buffer).map(|info| String::from_utf8_lossy(info.name).into()))
            .collect()
    }

    /// Queues a parameter change for the start of the next block, in
    /// nice-plug's CLAP units: the plain value of stepped parameters (bool,
    /// enum index), the normalized value (0 to 1) of continuous ones.
    pub fn set_param(&mut self, name: &str, value: f64) {
        let id = self.param_id(name);
        self.pending.push(ParamValueEvent::new(0, id, Pckn::match_all(), value));
    }

    /// Processes one block. `inputs[port][channel]` and the returned
    /// `outputs[port][channel]` have `frames` samples; missing input
    /// channels are silent.
    pub fn process(
        &mut self,
        inputs: &[Vec<Vec<f32>>],
        frames: usize,
        transport: Option<Transport>,
    ) -> Vec<Vec<Vec<f32>>> {
        let (in_layout, out_layout) = self.layout.clone();
        let mut ins: Vec<Vec<Vec<f32>>> = in_layout
            .iter()
            .enumerate()
            .map(|(p, &n)| {
                (0..n as usize)
                    .map(|c| inputs.get(p).and_then(|port| port.get(c)).cloned().unwrap_or_else(|| vec![0.0; frames]))
                    .collect()
            })
            .collect();
        let mut outs: Vec<Vec<Vec<f32>>> =
            out_layout.iter().map(|&n| vec![vec![f32::NAN; frames]; n as usize]).collect();
        let total_in: usize = in_layout.iter().map(|&n| n as usize).sum();
        let total_out: usize = out_layout.iter().map(|&n| n as usize).sum();
        let mut in_ports = AudioPorts::with_capacity(total_in, ins.len());
        let mut out_ports = AudioPorts::with_capacity(total_out, outs.len());
        let input = in_ports.with_input_buffers(ins.iter_mut().map(|port| AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(port.iter_mut().map(InputChannel::variable)),
        }));
        let mut output = out_ports.with_output_buffers(outs.iter_mut().map(|port| AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(port.iter_mut().map(|c| c.as_mut_slice())),
        }));
        let events: Vec<ParamValueEvent> = std::mem::take(&mut self.pending);
        let in_events = InputEvents::from_buffer(&events);
        let mut out_buffer = EventBuffer::new();
        let mut out_events = OutputEvents::from_buffer(&mut out_buffer);
        let transport = transport.map(|t| self.transport_event(t));
        self.processor
            .as_mut()
            .expect("active")
            .process(&input, &mut output, &in_events, &mut out_events, None, transport.as_ref())
            .expect("process");
        self.main_thread_callbacks();
        outs
    }

    fn transport_event(&self, t: Transport) -> TransportEvent {
        let mut flags = TransportFlags::HAS_SECONDS_TIMELINE;
        if t.playing {
            flags |= TransportFlags::IS_PLAYING;
        }
        TransportEvent {
            header: EventHeader::new_core(0, EventFlags::empty()),
            flags,
            song_pos_beats: BeatTime::from_int(0),
            song_pos_seconds: SecondsTime::from_float(t.pos as f64 / self.rate),
            tempo: 120.0,
            tempo_inc: 0.0,
            loop_start_beats: BeatTime::from_int(0),
            loop_end_beats: BeatTime::from_int(0),
            loop_start_seconds: SecondsTime::from_int(0),
            loop_end_seconds: SecondsTime::from_int(0),
            bar_start: BeatTime::from_int(0),
            bar_number: 0,
            time_signature_numerator: 4,
            time_signature_denominator: 4,
        }
    }

    /// Runs the plugin's main-thread callback if it asked for one.
    fn main_thread_callbacks(&mut self) {
        let asked = self.instance.access_shared_handler(|s: &Shared| s.callback.swap(false, Ordering::AcqRel));
        if asked {
            self.instance.call_on_main_thread_callback();
        }
    }

    /// The plugin's state.
    pub fn save_state(&mut self) -> Vec<u8> {
        let ext: PluginState = self.instance.plugin_shared_handle().get_extension().expect("state");
        let mut out = Vec::new();
        ext.save(&self.instance.plugin_handle(), &mut out).expect("state saves");
        out
    }

    /// Loads a state; false if the plugin refused it.
    pub fn load_state(&mut self, state: &[u8]) -> bool {
        let ext: PluginState = self.instance.plugin_shared_handle().get_extension().expect("state");
        let ok = ext.load(&self.instance.plugin_handle(), &mut &state[..]).is_ok();
        self.main_thread_callbacks();
        ok
    }

    /// The plugin's state, written to a stream that takes at most `piece`
    /// bytes per call (as clap-validator's buffered-stream test does).
    pub fn save_state_in_pieces(&mut self, piece: usize) -> Vec<u8> {
        let ext: PluginState = self.instance.plugin_shared_handle().get_extension().expect("state");
        let mut out = Pieces { bytes: Vec::new(), piece };
        ext.save(&self.instance.plugin_handle(), &mut out).expect("state saves");
        out.bytes
    }

    /// Loads a state from a stream that gives at most `piece` bytes per
    /// call; false if the plugin refused it.
    pub fn load_state_in_pieces(&mut self, state: &[u8], piece: usize) -> bool {
        let ext: PluginState = self.instance.plugin_shared_handle().get_extension().expect("state");
        let mut input = Pieces { bytes: state.to_vec(), piece };
        let ok = ext.load(&self.instance.plugin_handle(), &mut input).is_ok();
        self.main_thread_callbacks();
        ok
    }

    /// The plugin's state as JSON (nice-plug's CLAP state: a little-endian
    /// u64 length, then JSON).
    pub fn state_json(&mut self) -> serde_json::Value {
        let bytes = self.save_state();
        assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize, bytes.len() - 8);
        serde_json::from_slice(&bytes[8..]).expect("state is JSON")
    }

    /// Loads a JSON state in nice-plug's CLAP framing.
    pub fn load_state_json(&mut self, state: &serde_json::Value) -> bool {
        let json = serde_json::to_vec(state).unwrap();
        let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
        bytes.extend(json);
        self.load_state(&bytes)
    }

    /// The plugin's persisted JSON field `key` (nice-plug stores fields as JSON strings).
    pub fn field(&mut self, key: &str) -> serde_json::Value {
        let state = self.state_json();
        serde_json::from_str(state["fields"][key].as_str().expect("field present")).expect("field is JSON")
    }

    /// Replaces the persisted JSON field `key` through a state load.
    pub fn set_field(&mut self, key: &str, value: &serde_json::Value) {
        let mut state = self.state_json();
        state["fields"][key] = serde_json::Value::String(value.to_string());
        assert!(self.load_state_json(&state), "state loads");
    }
}

/// A stream that moves at most `piece` bytes per read or write call.
struct Pieces {
    bytes: Vec<u8>,
    piece: usize,
}

impl std::io::Write for Pieces {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.piece);
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.piece).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes.drain(..n);
        Ok(n)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.deactivate();
    }
}
