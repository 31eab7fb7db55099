//! The worker: one thread per active instance that loads the model lazily,
//! runs jobs on the captured audio, writes result clips, hands results to
//! the audio thread and restores results after the host loads a state.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};
use gmsdi_engine::audio::{read_wav, Audio};
use gmsdi_engine::job::{self, Job, Source, Task};
use gmsdi_engine::network::Model;
use gmsdi_engine::progress::Tracker;
use gmsdi_engine::runtime::RuntimeOptions;
use parking_lot::Mutex;

use crate::capture::CaptureStore;
use crate::params::{GmsdiParams, TaskChoice};
use crate::playback::{self, Publisher, Results, Stem};
use crate::state::{Clip, PersistedState};
use crate::status::{Code, Status};
use crate::{cache, clips, location};

/// How often the worker looks for a Generate request or a loaded state.
const POLL: Duration = Duration::from_millis(20);

/// What the plugin, its audio thread and its worker share.
pub struct Shared {
    /// Parameters and persisted state.
    pub params: Arc<GmsdiParams>,
    /// The capture buffers of the current activation.
    pub capture: Mutex<Option<Arc<CaptureStore>>>,
    /// Writer side of the results hand-over.
    pub publisher: Mutex<Publisher>,
    /// Set by the audio thread when Generate turns on.
    pub generate: AtomicBool,
    /// Current host sample rate (0 before the first activation).
    pub rate: AtomicU32,
    /// What the worker is doing.
    pub status: Status,
    /// State loads that the published results reflect.
    restored_loads: AtomicU64,
    /// Rate of the published results (0 = none published).
    results_rate: AtomicU32,
}

impl Shared {
    /// Shared data around `params` and the writer side of the hand-over.
    pub fn new(params: Arc<GmsdiParams>, publisher: Publisher) -> Self {
        Self {
            params,
            capture: Mutex::new(None),
            publisher: Mutex::new(publisher),
            generate: AtomicBool::new(false),
            rate: AtomicU32::new(0),
            status: Status::default(),
            restored_loads: AtomicU64::new(0),
            results_rate: AtomicU32::new(0),
        }
    }

    /// Sets the status and the state's report together.
    pub fn report(&self, code: Code, message: String) {
        self.params.state.update(|s| s.report.clone_from(&message));
        self.status.set(code, message);
    }
}

/// Messages to the worker thread.
enum Command {
    /// Stop (after cancelling the running job).
    Shutdown,
}

/// Handle of the worker thread: dropping it cancels the running job and joins.
pub struct Worker {
    tx: Sender<Command>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread of an instance.
    pub fn spawn(shared: Arc<Shared>) -> std::io::Result<Worker> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let cancel = Arc::new(AtomicBool::new(false));
        let mut state = Thread { shared, cancel: cancel.clone(), model: None };
        let thread = std::thread::Builder::new().name("gmsdi-worker".into()).spawn(move || {
            lower_priority();
            loop {
                match rx.recv_timeout(POLL) {
                    Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {}
                }
                state.restore_if_needed();
                if state.shared.generate.swap(false, Ordering::AcqRel) {
                    state.run_job();
                }
            }
        })?;
        Ok(Worker { tx, cancel, thread: Some(thread) })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Release);
        let _ = self.tx.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    cancel: Arc<AtomicBool>,
    model: Option<Model>,
}

impl Thread {
    fn run_job(&mut self) {
        self.shared.status.set_progress(0.0);
        self.shared.status.set(Code::Busy, "running the job");
        match self.job() {
            Ok(message) => self.shared.report(Code::Done, message),
            Err(message) => self.shared.report(Code::Failed, format!("job failed: {message}")),
        }
    }

    /// The loaded model, (re)loading it if the wanted folder changed.
    fn model(&mut self, from_state: Option<PathBuf>) -> Result<&mut Model, String> {
        let candidates = location::model_candidates(from_state);
        let Some(dir) = candidates.iter().find(|d| d.join("model.json").is_file()) else {
            let list: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            return Err(format!(
                "no model found: set the model folder or {} (looked in: {})",
                location::MODEL_ENV,
                list.join(", ")
            ));
        };
        if self.model.as_ref().is_some_and(|m| &m.dir != dir) {
            self.model = None;
        }
        if self.model.is_none() {
            self.shared.status.set(Code::Busy, format!("loading the model from {}", dir.display()));
            let options = RuntimeOptions { search_dir: location::binary_dir(), ..RuntimeOptions::default() };
            self.model = Some(Model::load(dir, &options).map_err(|e| e.to_string())?);
        }
        self.model.as_mut().ok_or_else(|| "model not loaded".into())
    }

    fn job(&mut self) -> Result<String, String> {
        let capture = self.shared.capture.lock().clone().ok_or("no capture buffers (see the previous message)")?;
        let (start, end) =
            capture.range().ok_or("nothing captured yet: turn Capture on and play the part to work on")?;
        let state = self.shared.params.state.snapshot();
        let choice = self.shared.params.task.value();
        let (shared, cancel) = (self.shared.clone(), self.cancel.clone());
        let dir = location::output_dir(state.output_dir.clone());
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
        let model = self.model(state.model_dir.clone())?;
        let mut warnings = Vec::new();
        let task = match choice {
            TaskChoice::Accompany => accompany_task(&capture, (start, end), &state, &mut warnings)?,
            TaskChoice::Separate => {
                let (mix, bad) = capture.read(0, start, end);
                if bad > 0 {
                    warnings.push(format!("the main input had {bad} NaN or infinite samples, replaced by silence"));
                }
                let stems = if state.separate_stems.is_empty() {
                    model.manifest.stems.keys().cloned().collect()
                } else {
                    state.separate_stems.clone()
                };
                Task::Separate { mix, stems }
            }
        };
        let mut job = Job::new(task);
        job.overrides = state.settings.overrides();
        let key = cache::key(&job, &model.dir, start);
        let rate = capture.rate();
        if let Some(clips) = cache::lookup(&dir, &key) {
            if let Ok(stems) = clips.iter().map(|c| load_stem(c, rate)).collect::<Result<Vec<_>, _>>() {
                return Ok(self.finish(Results { rate, stems }, clips, "reused (identical job)", warnings));
            }
        }

        let report = Box::new(move |p: &gmsdi_engine::progress::Progress| shared.status.set_progress(p.fraction));
        let mut tracker = Tracker::new(1, cancel, report);
        let output = job::run(model, &job, &mut tracker).map_err(|e| e.to_string())?;
        warnings.extend(output.warnings);
        let name = job_name(choice);
        let mut clips = Vec::new();
        let mut stems = Vec::new();
        for (stem, audio) in output.stems {
            let path = dir.join(format!("{name}-{}.wav", file_safe(&stem)));
            clips::write_clip(&path, &audio, start.max(0) as u64)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            stems.push(Stem { name: stem.clone(), start, channels: stereo(audio) });
            clips.push(Clip { stem, path, start });
        }
        if let Err(e) = cache::store(&dir, &key, &clips) {
            warnings.push(format!("cannot record the job in the cache: {e}"));
        }
        Ok(self.finish(Results { rate, stems }, clips, "wrote", warnings))
    }

    /// Publishes a job's results, records its clips in the state and
    /// returns the report: `verb`, the files, then any warnings.
    fn finish(&self, results: Results, clips: Vec<Clip>, verb: &str, warnings: Vec<String>) -> String {
        let files: Vec<String> = clips.iter().map(|c| c.path.display().to_string()).collect();
        self.publish(results);
        self.shared.params.state.update(|s| s.results = clips);
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
        playback::publish(&mut self.shared.publisher.lock(), Some(Arc::new(results)));
    }

    /// Reloads the state's result files after a host state load, or
    /// resamples them after a sample-rate change.
    fn restore_if_needed(&mut self) {
        let loads = self.shared.params.state.loads();
        let rate = self.shared.rate.load(Ordering::Acquire);
        let published = self.shared.results_rate.load(Ordering::Acquire);
        if loads == self.shared.restored_loads.load(Ordering::Acquire) && (published == 0 || published == rate) {
            return;
        }
        self.shared.restored_loads.store(loads, Ordering::Release);
        let state = self.shared.params.state.snapshot();
        if state.results.is_empty() {
            self.shared.results_rate.store(0, Ordering::Release);
            playback::publish(&mut self.shared.publisher.lock(), None);
            return;
        }
        let mut stems = Vec::new();
        let mut problems = Vec::new();
        for clip in &state.results {
            match load_stem(clip, rate) {
                Ok(stem) => stems.push(stem),
                Err(e) => problems.push(e),
            }
        }
        let count = stems.len();
        self.publish(Results { rate, stems });
        if problems.is_empty() {
            self.shared.report(Code::Done, format!("restored {count} result clips"));
        } else {
            self.shared.report(
                Code::Failed,
                format!("restored {count} result clips; missing or unreadable: {}", problems.join("; ")),
            );
        }
    }
}

/// A result clip read from its file, resampled to `rate`, its start moved to match.
fn load_stem(clip: &Clip, rate: u32) -> Result<Stem, String> {
    let audio = read_wav(&clip.path).map_err(|e| e.to_string())?;
    let start = (i128::from(clip.start) * i128::from(rate) / i128::from(audio.rate)) as i64;
    let audio = audio.resampled(rate).map_err(|e| e.to_string())?;
    Ok(Stem { name: clip.stem.clone(), start, channels: stereo(audio) })
}

/// The accompaniment task: every labelled source that holds audio.
fn accompany_task(
    capture: &CaptureStore,
    (start, end): (i64, i64),
    state: &PersistedState,
    warnings: &mut Vec<String>,
) -> Result<Task, String> {
    let mut sources = Vec::new();
    for (i, label) in state.labels.iter().enumerate() {
        let label = label.trim();
        if label.is_empty() {
            continue;
        }
        let (audio, bad) = capture.read(1 + i, start, end);
        if bad > 0 {
            warnings.push(format!("source {} had {bad} NaN or infinite samples, replaced by silence", i + 1));
        }
        if audio.rms() == 0.0 {
            warnings.push(format!("source {} (\"{label}\") is silent and was left out", i + 1));
            continue;
        }
        sources.push(Source { label: label.to_string(), audio });
    }
    if sources.is_empty() {
        return Err("no labelled source holds audio: route a track into Source 1-3 and give it a label".into());
    }
    let generate: Vec<Vec<String>> =
        state.stems.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| vec![s.to_string()]).collect();
    Ok(Task::Accompany { sources, generate })
}

/// A job's file-name prefix: its task and the time it finished.
fn job_name(choice: TaskChoice) -> String {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let task = match choice {
        TaskChoice::Accompany => "accompany",
        TaskChoice::Separate => "separate",
    };
    format!("gmsdi-{task}-{millis}")
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
