//! The worker: one thread per instance that loads the model lazily, runs
//! jobs on the captured audio, writes result clips, hands results to the
//! audio thread and restores results after the host loads a state. It
//! blocks on a channel of commands from the host's main thread (activation,
//! state loads) and the editor; the editor reads what it shows through a
//! narrow [`WorkerView`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use gmsdi_engine::audio::{read_wav, Audio};
use gmsdi_engine::error::EngineError;
use gmsdi_engine::job::{self, Job, Task};
use gmsdi_engine::network::Model;
use gmsdi_engine::progress::Tracker;
use gmsdi_engine::runtime::{Provider, RuntimeOptions};
use gmsdi_engine::settings::Settings;
use parking_lot::Mutex;

use crate::capture::CaptureStore;
use crate::error::PluginError;
use crate::model_info::ModelInfo;
use crate::params::GmsdiParams;
use crate::playback::{self, Publisher, Results, Stem};
use crate::state::{Clip, HistoryEntry, PersistedState, HISTORY};
use crate::status::{Code, JobProgress, Status};
use crate::{cache, clips, location, tasks};
use nice_plug::params::persist::PersistentField;

/// The longest the worker waits for a command before it looks at the audio
/// thread's Generate request (see [`Worker::request_generate`]).
const AUDIO_REQUEST_WAIT: Duration = Duration::from_millis(20);

/// The model the next job will use, or why there is none.
pub type ModelLookup = Result<ModelInfo, Arc<PluginError>>;

/// Messages to the worker thread.
enum Command {
    /// Run the chosen task on the captured audio (the editor's Generate button).
    Generate,
    /// Load the state's result files again (the editor restored a job from the history).
    Restore,
    /// The host loaded a state: describe its model, load its result files.
    StateLoaded,
    /// The editor changed the model folder or the execution provider: describe the model again.
    ModelChanged,
    /// The host activated the plugin: the results may need resampling to its rate.
    Activated,
    /// Stop (after cancelling the running job).
    Shutdown,
}

/// What the worker thread shares with the plugin and the editor, private to
/// this module: the plugin reaches it through [`Worker`], the editor through
/// [`WorkerView`].
struct Shared {
    /// Parameters and persisted state.
    params: Arc<GmsdiParams>,
    /// The capture buffers of the current activation.
    capture: Mutex<Option<Arc<CaptureStore>>>,
    /// Current host sample rate (0 before the first activation).
    rate: AtomicU32,
    /// Writer side of the results hand-over.
    publisher: Mutex<Publisher>,
    /// The results the audio thread plays, for the editor's waveforms.
    results: Mutex<Option<Arc<Results>>>,
    /// What the worker is doing.
    status: Status,
    /// The model the next job will use, or why there is none (`None`: not
    /// looked for yet, the worker starts at the first activation).
    model_info: Mutex<Option<ModelLookup>>,
    /// The audio thread's Generate request. It exists only because the audio
    /// thread cannot send a command (sending may allocate, and the audio
    /// thread must not allocate, lock or wait): it sets this flag and the
    /// worker looks at it each time it wakes, at least every
    /// [`AUDIO_REQUEST_WAIT`]. Everything else arrives as a [`Command`].
    generate: AtomicBool,
    /// Stops the running job before its next network evaluation (the
    /// engine's progress tracker reads it between evaluations).
    cancel: Arc<AtomicBool>,
    /// Set when the instance goes away: no job or restore starts after it.
    shutdown: AtomicBool,
    /// State loads that the published results reflect.
    restored_loads: AtomicU64,
    /// Rate of the published results (0 = none published).
    results_rate: AtomicU32,
}

impl Shared {
    /// Whether the state's result files still wait to be (re)loaded: a state
    /// was loaded, or the host rate changed, since the results were published.
    fn restore_pending(&self) -> bool {
        let published = self.results_rate.load(Ordering::Acquire);
        self.params.state.loads() != self.restored_loads.load(Ordering::Acquire)
            || (published != 0 && published != self.rate.load(Ordering::Acquire))
    }

    /// Sets the status and the state's report together.
    fn report(&self, code: Code, message: String) {
        self.params.state.update(|s| s.report.clone_from(&message));
        self.status.set(code, message);
    }

    /// Sets a failure, with its fix, as the status, and its message as the state's report.
    fn fail(&self, message: String, fix: Option<&'static str>) {
        self.params.state.update(|s| s.report.clone_from(&message));
        self.status.fail(message, fix);
    }
}

/// The worker of an instance: its shared data, its command channel and,
/// once started, its thread. Dropping it cancels the running job and joins.
pub struct Worker {
    shared: Arc<Shared>,
    commands: Sender<Command>,
    inbox: Receiver<Command>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// The worker of the instance whose parameters are `params`, not started
    /// yet (see [`start`](Self::start)). From now on every host state load
    /// reaches it as a command, queued until it starts.
    pub fn new(params: Arc<GmsdiParams>, publisher: Publisher) -> Worker {
        let (commands, inbox) = crossbeam_channel::unbounded();
        let loaded = commands.clone();
        let listening = params.state.on_load(move || {
            let _ = loaded.send(Command::StateLoaded); // fails only once the worker is gone
        });
        debug_assert!(listening, "one worker per set of parameters");
        let shared = Shared {
            params,
            capture: Mutex::new(None),
            rate: AtomicU32::new(0),
            publisher: Mutex::new(publisher),
            results: Mutex::new(None),
            status: Status::default(),
            model_info: Mutex::new(None),
            generate: AtomicBool::new(false),
            cancel: Arc::new(AtomicBool::new(false)),
            shutdown: AtomicBool::new(false),
            restored_loads: AtomicU64::new(0),
            results_rate: AtomicU32::new(0),
        };
        Worker { shared: Arc::new(shared), commands, inbox, thread: None }
    }

    /// Starts the worker thread, unless it runs already (a failed start may be retried).
    pub fn start(&mut self) -> std::io::Result<()> {
        if self.thread.is_none() {
            let thread = Thread { shared: self.shared.clone(), inbox: self.inbox.clone(), model: None, info_for: None };
            self.thread = Some(std::thread::Builder::new().name("gmsdi-worker".into()).spawn(move || thread.run())?);
        }
        Ok(())
    }

    /// Whether the worker thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    /// Hands the worker an activation's capture buffers and sample rate
    /// (main thread); it resamples the results if the rate changed.
    pub fn activated(&self, capture: Option<Arc<CaptureStore>>, rate: u32) {
        *self.shared.capture.lock() = capture;
        self.shared.rate.store(rate, Ordering::Release);
        self.send(Command::Activated);
    }

    /// Lets go of the capture buffers, so that they are freed before new
    /// ones are allocated (a running job keeps its own reference).
    pub fn release_capture(&self) {
        *self.shared.capture.lock() = None;
    }

    /// The Generate parameter turned on. Real-time safe (one atomic store):
    /// the audio thread's only way to ask the worker for something.
    pub fn request_generate(&self) {
        self.shared.generate.store(true, Ordering::Release);
    }

    /// Blocks the calling (main) thread until the worker has loaded the
    /// state's result files, at most `limit`, so that a host rendering right
    /// after loading a project (an offline export) hears them. Returns at once
    /// while a job runs (the restore waits for it) or before the worker
    /// starts. Never call it from the audio thread.
    pub fn wait_for_restore(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let status = &self.shared.status;
        while self.is_running()
            && self.shared.restore_pending()
            && status.code() != Code::Busy
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sets the status and the state's report (a message from the plugin, not the worker).
    pub fn report(&self, code: Code, message: String) {
        self.shared.report(code, message);
    }

    /// Reports a failure outside a job (an activation's), with its fix.
    pub fn fail(&self, error: &PluginError) {
        self.shared.fail(error.to_string(), error.fix());
    }

    /// The editor's view of this worker.
    pub fn view(&self) -> WorkerView {
        WorkerView { shared: self.shared.clone(), commands: self.commands.clone() }
    }

    fn send(&self, command: Command) {
        let _ = self.commands.send(command); // cannot fail: `self.inbox` keeps the channel open
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.shutdown.store(true, Ordering::Release);
            self.shared.cancel.store(true, Ordering::Release);
            self.send(Command::Shutdown);
            let _ = thread.join();
        }
    }
}

/// What the editor sees of the worker (status, progress, results, capture
/// buffers, model) and the requests it may send (generate, cancel, restore,
/// a new model choice). Cheap to clone.
#[derive(Clone)]
pub struct WorkerView {
    shared: Arc<Shared>,
    commands: Sender<Command>,
}

impl WorkerView {
    /// What the worker is doing.
    pub fn code(&self) -> Code {
        self.shared.status.code()
    }

    /// The worker's last message.
    pub fn message(&self) -> String {
        self.shared.status.message()
    }

    /// What the user can do about the last failure, if it is one with a fix.
    pub fn fix(&self) -> Option<&'static str> {
        self.shared.status.fix()
    }

    /// The running job's progress.
    pub fn progress(&self) -> JobProgress {
        self.shared.status.progress()
    }

    /// The results the audio thread plays.
    pub fn results(&self) -> Option<Arc<Results>> {
        self.shared.results.lock().clone()
    }

    /// The capture buffers of the current activation (their rate and captured range).
    pub fn capture(&self) -> Option<Arc<CaptureStore>> {
        self.shared.capture.lock().clone()
    }

    /// The model the next job will use, or why there is none (`None`: not looked for yet).
    pub fn model(&self) -> Option<ModelLookup> {
        self.shared.model_info.lock().clone()
    }

    /// Runs the chosen task on the captured audio.
    pub fn generate(&self) {
        self.send(Command::Generate);
    }

    /// Stops the running job after its current network evaluation.
    pub fn cancel(&self) {
        self.shared.cancel.store(true, Ordering::Release);
    }

    /// Loads the state's result files again (after the editor changed them).
    pub fn restore(&self) {
        self.send(Command::Restore);
    }

    /// Describes the model again (after the editor changed the model folder or provider).
    pub fn model_changed(&self) {
        self.send(Command::ModelChanged);
    }

    fn send(&self, command: Command) {
        let _ = self.commands.send(command); // fails only once the worker is gone
    }
}

/// Inference must not compete with the host's threads.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: changes only this thread's nice value (threads ONNX Runtime starts inherit it).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// The worker thread's own data.
struct Thread {
    shared: Arc<Shared>,
    inbox: Receiver<Command>,
    /// The loaded model and the provider it was asked for.
    model: Option<(Model, Provider)>,
    /// The state's model folder and provider that `Shared::model_info` describes.
    info_for: Option<(Option<PathBuf>, Option<String>)>,
}

impl Thread {
    /// The thread's life: describe the model, restore the state's results,
    /// then serve commands (and the audio thread's requests) until shutdown.
    fn run(mut self) {
        lower_priority();
        self.refresh_model_info();
        self.restore(false);
        while !self.shared.shutdown.load(Ordering::Acquire) {
            match self.inbox.recv_timeout(AUDIO_REQUEST_WAIT) {
                Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Command::Generate) => self.run_job(),
                Ok(Command::Restore) => self.restore(true),
                Ok(Command::StateLoaded) => {
                    self.refresh_model_info();
                    self.restore(false);
                }
                Ok(Command::ModelChanged) => self.refresh_model_info(),
                Ok(Command::Activated) => self.restore(false),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.shared.generate.swap(false, Ordering::AcqRel) {
                self.run_job();
            }
        }
    }

    fn run_job(&mut self) {
        // Cleared before the shutdown check: a shutdown after it keeps its cancel.
        self.shared.cancel.store(false, Ordering::Release);
        if self.shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        self.shared.status.set_progress(None);
        self.shared.status.set(Code::Busy, "running the job");
        match self.job() {
            Ok(message) => self.shared.report(Code::Done, message),
            Err(PluginError::Cancelled) => self.shared.report(Code::Idle, "job cancelled".into()),
            Err(e) if self.shared.cancel.load(Ordering::Acquire) => {
                self.shared.report(Code::Idle, format!("job cancelled ({e})"))
            }
            Err(e) => self.shared.fail(format!("job failed: {e}"), e.fix()),
        }
    }

    /// The model folder to use: the first candidate holding a `model.json`.
    fn model_dir(from_state: Option<PathBuf>) -> Result<PathBuf, PluginError> {
        let candidates = location::model_candidates(from_state);
        match candidates.iter().find(|d| d.join("model.json").is_file()) {
            Some(dir) => Ok(dir.clone()),
            None => Err(PluginError::NoModel { looked_in: candidates }),
        }
    }

    /// Re-reads the model's description when the state names another
    /// model folder or provider (or the first time).
    fn refresh_model_info(&mut self) {
        let wanted = self.shared.params.state.map(|s| (s.model_dir.clone(), s.provider.clone()));
        if self.info_for.as_ref() == Some(&wanted) {
            return;
        }
        let info = Self::model_dir(wanted.0.clone()).and_then(|dir| ModelInfo::read(&dir).map_err(PluginError::Model));
        *self.shared.model_info.lock() = Some(info.map_err(Arc::new));
        self.info_for = Some(wanted);
    }

    /// The loaded model, (re)loading it if the wanted folder or provider changed.
    fn model(&mut self, state: &PersistedState) -> Result<&mut Model, PluginError> {
        let dir = Self::model_dir(state.model_dir.clone())?;
        let provider: Provider = state
            .provider
            .as_deref()
            .unwrap_or("cpu")
            .parse()
            .map_err(|e: EngineError| PluginError::InvalidSetting(e.to_string()))?;
        if self.model.as_ref().is_some_and(|(m, p)| m.dir != dir || *p != provider) {
            self.model = None; // frees the old model before loading the new one
        }
        let loaded = match self.model.take() {
            Some(loaded) => loaded,
            None => {
                self.shared.status.set(Code::Busy, format!("loading the model from {}", dir.display()));
                let options =
                    RuntimeOptions { provider, search_dir: location::binary_dir(), ..RuntimeOptions::default() };
                let model = Model::load(&dir, &options).map_err(PluginError::Model)?;
                if let Some(Ok(info)) = self.shared.model_info.lock().as_mut() {
                    info.provider = Some(model.provider.to_string());
                }
                self.shared.status.set(Code::Busy, "running the job");
                (model, provider)
            }
        };
        Ok(&mut self.model.insert(loaded).0)
    }

    fn job(&mut self) -> Result<String, PluginError> {
        let capture = self.shared.capture.lock().clone().ok_or(PluginError::NoCaptureBuffers)?;
        let state = self.shared.params.state.snapshot();
        let choice = self.shared.params.task.value();
        let (shared, cancel) = (self.shared.clone(), self.shared.cancel.clone());
        let dir = location::output_dir(state.output_dir.clone());
        std::fs::create_dir_all(&dir).map_err(|source| PluginError::OutputFolder { path: dir.clone(), source })?;
        let model = self.model(&state)?;
        let mut warnings: Vec<String> = model.provider_warning.iter().cloned().collect();
        let model_stems: Vec<String> = model.manifest.stems.keys().cloned().collect();
        let model_name = model.manifest.name.clone();
        let (job, region) = tasks::build(choice, &capture, &state, &model_stems, &mut warnings)?;
        let key = cache::key(&job, &model.dir, region.start);
        let rate = capture.rate();
        let record = |settings: &Settings, results: Vec<Clip>| HistoryEntry {
            task: choice.name().into(),
            finished: unix_seconds(),
            summary: summary(&job),
            settings: state.settings.clone(),
            resolved: resolved_text(settings, &model_name),
            results,
        };
        if let Some(clips) = cache::lookup(&dir, &key) {
            if let Ok(stems) = clips.iter().map(|c| load_stem(c, rate)).collect::<Result<Vec<_>, _>>() {
                // The cache keeps the files, not the settings: resolve them as the job did.
                let settings =
                    Settings::resolve(choice.kind(), &model.manifest, &job.overrides).map_err(PluginError::engine)?;
                let entry = record(&settings, clips);
                return Ok(self.finish(Results { rate, stems }, entry, "reused (identical job)", warnings));
            }
        }

        let report = Box::new(move |p: &gmsdi_engine::progress::Progress| shared.status.set_progress(Some(p)));
        let mut tracker = Tracker::new(1, cancel, report);
        let output = job::run(model, &job, &mut tracker).map_err(PluginError::engine)?;
        warnings.extend(output.warnings);
        let name = format!("gmsdi-{}-{}", choice.name(), unix_millis());
        let mut clips = Vec::new();
        let mut stems = Vec::new();
        for (stem, audio) in output.stems {
            let path = dir.join(format!("{name}-{}.wav", file_safe(&stem)));
            clips::write_clip(&path, &audio, region.start.max(0) as u64)
                .map_err(|source| PluginError::CannotWrite { path: path.clone(), source })?;
            stems.push(Stem { name: stem.clone(), start: region.start, channels: stereo(audio) });
            clips.push(Clip { stem, path, start: region.start });
        }
        if let Err(e) = cache::store(&dir, &key, &clips) {
            warnings.push(format!("cannot record the job in the cache: {e}"));
        }
        // What the job actually ran with (an extraction runs the extractor, whatever the method says).
        let entry = record(&output.settings, clips);
        Ok(self.finish(Results { rate, stems }, entry, "wrote", warnings))
    }

    /// Publishes a job's results, records its clips in the state and
    /// returns the report: `verb`, the files, then any warnings.
    fn finish(&self, results: Results, entry: HistoryEntry, verb: &str, warnings: Vec<String>) -> String {
        let files: Vec<String> = entry.results.iter().map(|c| c.path.display().to_string()).collect();
        self.publish(results);
        self.shared.params.state.update(|s| {
            s.results.clone_from(&entry.results);
            s.history.insert(0, entry);
            s.history.truncate(HISTORY);
        });
        // The published results are the state's now: nothing to restore.
        self.shared.restored_loads.store(self.shared.params.state.loads(), Ordering::Release);
        let mut message = format!("{verb} {}", files.join(", "));
        if !warnings.is_empty() {
            message += &format!(" (warnings: {})", warnings.join("; "));
        }
        message
    }

    fn publish(&self, results: Results) {
        self.shared.results_rate.store(results.rate, Ordering::Release);
        let results = Arc::new(results);
        *self.shared.results.lock() = Some(results.clone());
        playback::publish(&mut self.shared.publisher.lock(), Some(results));
    }

    /// Reloads the state's result files after a host state load (or when
    /// `forced`: the editor changed them), or resamples them after a
    /// sample-rate change; does nothing when the published results are current.
    fn restore(&mut self, forced: bool) {
        let loads = self.shared.params.state.loads();
        if !forced && !self.shared.restore_pending() {
            return;
        }
        let rate = self.shared.rate.load(Ordering::Acquire);
        let state = self.shared.params.state.snapshot();
        if state.results.is_empty() {
            self.shared.results_rate.store(0, Ordering::Release);
            *self.shared.results.lock() = None;
            playback::publish(&mut self.shared.publisher.lock(), None);
            self.shared.restored_loads.store(loads, Ordering::Release);
            return;
        }
        let mut stems = Vec::new();
        let mut missing = Vec::new();
        for clip in &state.results {
            match load_stem(clip, rate) {
                Ok(stem) => stems.push(stem),
                Err(e) => missing.push(e),
            }
        }
        let restored = stems.len();
        self.publish(Results { rate, stems });
        if missing.is_empty() {
            self.shared.report(Code::Done, format!("restored {restored} result clips"));
        } else {
            let error = PluginError::RestoreIncomplete { restored, missing };
            self.shared.fail(error.to_string(), error.fix());
        }
        // Only now is the restore done (`wait_for_restore` looks at this).
        self.shared.restored_loads.store(loads, Ordering::Release);
    }
}

/// A result clip read from its file, resampled to `rate`, its start moved to match.
fn load_stem(clip: &Clip, rate: u32) -> Result<Stem, EngineError> {
    let audio = read_wav(&clip.path)?;
    let start = (i128::from(clip.start) * i128::from(rate) / i128::from(audio.rate)) as i64;
    let audio = audio.resampled(rate)?;
    Ok(Stem { name: clip.stem.clone(), start, channels: stereo(audio) })
}

/// What a job was asked for, in words, for the history.
fn summary(job: &Job) -> String {
    match &job.task {
        Task::Separate { stems, .. } | Task::Extract { stems, .. } => stems.join(", "),
        Task::Accompany { sources, generate } => {
            let given: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
            format!(
                "{} under {}",
                generate.iter().map(|g| g.join("+")).collect::<Vec<_>>().join(", "),
                given.join(", ")
            )
        }
        Task::Generate { stems, seconds, .. } => {
            format!("{} ({seconds:.1} s)", stems.iter().map(|g| g.join("+")).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Every setting a job ran with, in words, so that it can be reproduced.
fn resolved_text(s: &Settings, model: &str) -> String {
    format!("model {model}, {s}")
}

/// Milliseconds since the Unix epoch (file names).
fn unix_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// Seconds since the Unix epoch (the history).
fn unix_seconds() -> u64 {
    (unix_millis() / 1000) as u64
}

/// A stem name made safe for file names.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '+' { c } else { '_' }).collect()
}

/// Left and right channels of any audio.
fn stereo(audio: Audio) -> [Vec<f32>; 2] {
    let mut channels = audio.with_channel_count(2).channels.into_iter();
    [channels.next().unwrap_or_default(), channels.next().unwrap_or_default()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits until `done` holds for the worker's view (at most 10 s).
    fn until(view: &WorkerView, what: &str, done: impl Fn(&WorkerView) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(view) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", view.message());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn requests_and_host_loads_reach_the_worker() {
        let out = tempfile::tempdir().unwrap();
        let params = Arc::new(GmsdiParams::default());
        let missing = out.path().join("no-model-here");
        params.state.update(|s| s.model_dir = Some(missing.clone()));
        let (publisher, _reader) = playback::channel();
        let mut worker = Worker::new(params.clone(), publisher);
        let view = worker.view();
        worker.activated(None, 44_100);
        worker.start().unwrap();
        until(&view, "the model search", |v| v.model().is_some());
        let no_model = view.model().unwrap().unwrap_err();
        assert!(
            matches!(&*no_model, PluginError::NoModel { looked_in } if looked_in == std::slice::from_ref(&missing))
        );

        // The audio thread's request: a job without capture buffers fails with that fix.
        worker.request_generate();
        until(&view, "the job", |v| v.code() == Code::Failed);
        assert_eq!(view.message(), format!("job failed: {}", PluginError::NoCaptureBuffers));
        assert_eq!(view.fix(), PluginError::NoCaptureBuffers.fix());

        // A host load: the worker restores its results, and the main thread can wait for that.
        let clip = Clip { stem: "bass".into(), path: out.path().join("gone.wav"), start: 0 };
        params.state.set(PersistedState { model_dir: Some(missing), results: vec![clip], ..PersistedState::default() });
        worker.wait_for_restore(Duration::from_secs(10));
        assert!(view.message().starts_with("restored 0 result clips; missing or unreadable: "), "{}", view.message());
        assert!(view.fix().is_some_and(|f| f.contains("Job history")));
        assert_eq!(params.state.snapshot().report, view.message(), "the report is the status message");
    }
}
