//! The model's networks behind ONNX Runtime: the denoiser and the text
//! encoder, checked against the contract when loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

use crate::error::{EngineError, Result};
use crate::manifest::Manifest;
use crate::row_pool::RowPool;
use crate::runtime::{open_session, Provider, RuntimeOptions};

/// Most denoiser sessions a CPU model opens (each one holds the weights and
/// a one-row memory arena).
const MAX_CPU_SESSIONS: usize = 8;

/// A denoiser D(x, σ, z) over a batch; what the GMSDI tasks drive.
pub trait Denoiser {
    /// Channel count C of one row.
    fn channels(&self) -> usize;
    /// Whether the network hears given tracks through the contract's
    /// optional `context` input.
    fn takes_context(&self) -> bool {
        false
    }
    /// Evaluates one batch: `x` is [B, C, T] row-major, `sigma` [B],
    /// `embedding` [B, D], `context` [B, C, T] (the given tracks; a row of
    /// zeros or `None` means none); returns the denoised batch [B, C, T].
    fn denoise(
        &mut self,
        x: &[f32],
        frames: usize,
        sigma: &[f32],
        embedding: &[f32],
        context: Option<&[f32]>,
    ) -> Result<Vec<f32>>;
}

/// A loaded, checked model: manifest, denoiser, text encoder, tokenizer.
pub struct Model {
    /// Folder the model was loaded from.
    pub dir: PathBuf,
    /// The checked manifest.
    pub manifest: Manifest,
    /// Provider the denoiser runs on.
    pub provider: Provider,
    /// Why the requested provider is not used, if it is not.
    pub provider_warning: Option<String>,
    /// The denoiser file that runs (`denoiser`, or `denoiser_cpu` on the CPU).
    pub denoiser_file: String,
    denoiser: RowPool<Session>,
    /// On the CPU, the other denoiser file's sessions once a job asked for
    /// them (see [`Model::use_cpu_denoiser`]).
    spare: Option<(String, RowPool<Session>)>,
    options: RuntimeOptions,
    takes_context: bool,
    text_encoder: Session,
    tokenizer: tokenizers::Tokenizer,
    embeddings: HashMap<String, Vec<f32>>,
}

impl Model {
    /// Loads a model folder and checks it against the contract.
    pub fn load(dir: &Path, options: &RuntimeOptions) -> Result<Model> {
        let manifest = Manifest::load(dir)?;
        let mut den = open_denoiser(dir, &manifest, options)?;
        let takes_context = check_denoiser(&manifest, &den.file, den.pool.first())?;
        let text = open_session(
            &dir.join(&manifest.text_encoder),
            &RuntimeOptions { provider: Provider::Cpu, ..options.clone() },
        )?;
        check_text_encoder(&manifest, &text.session)?;
        let tokenizer = tokenizers::Tokenizer::from_file(dir.join(&manifest.tokenizer)).map_err(|e| {
            EngineError::contract(manifest.tokenizer.clone(), format!("not a valid tokenizers file: {e}"))
        })?;
        let mut model = Model {
            dir: dir.to_path_buf(),
            manifest,
            provider: den.provider,
            provider_warning: den.warning,
            denoiser_file: den.file,
            denoiser: den.pool,
            spare: None,
            options: options.clone(),
            takes_context,
            text_encoder: text.session,
            tokenizer,
            embeddings: HashMap::new(),
        };
        model.smoke_test()?;
        Ok(model)
    }

    /// Runs each network once on a tiny input so a graph that loads but
    /// cannot run, or returns the wrong shape or non-finite values, is
    /// refused at load time rather than in the middle of a job.
    fn smoke_test(&mut self) -> Result<()> {
        let stems: Vec<String> = self.manifest.stems.values().map(|s| s.prompt.clone()).collect();
        for prompt in stems {
            self.embed(&prompt)?;
        }
        let c = self.manifest.channels;
        let t = self.manifest.length_multiple;
        let emb = self.manifest.null_embedding.clone();
        let x = vec![0.01f32; c * t];
        let out = self.denoise(&x, t, &[1.0], &emb, None)?;
        if out.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::contract(
                self.denoiser_file.clone(),
                "`denoised` holds NaN or infinite values on a test input",
            ));
        }
        Ok(())
    }

    /// How many denoiser sessions share out a batch (one per CPU thread, or
    /// one on a GPU).
    pub fn denoiser_sessions(&self) -> usize {
        self.denoiser.members()
    }

    /// On the CPU, runs the manifest's `denoiser_cpu` from now on if `on`
    /// (unless the options ask for full precision), else its `denoiser`,
    /// opening that file's sessions the first time. Nothing changes on a GPU
    /// or for a model without a `denoiser_cpu`.
    pub fn use_cpu_denoiser(&mut self, on: bool) -> Result<()> {
        if self.provider != Provider::Cpu {
            return Ok(());
        }
        let want = self.manifest.cpu_denoiser(self.options.full_precision || !on).to_string();
        if want == self.denoiser_file {
            return Ok(());
        }
        let mut pool = match self.spare.take() {
            Some((file, pool)) if file == want => pool,
            _ => open_cpu_pool(&self.dir.join(&want), &self.options)?,
        };
        let takes_context = check_denoiser(&self.manifest, &want, pool.first())?;
        if takes_context != self.takes_context {
            let has = |b: bool| if b { "has" } else { "lacks" };
            let msg = format!(
                "{} the `context` input, which {} {}: both denoisers need the same ports",
                has(takes_context),
                self.denoiser_file,
                has(self.takes_context)
            );
            return Err(EngineError::contract(want, msg));
        }
        let old = std::mem::replace(&mut self.denoiser, pool);
        self.spare = Some((std::mem::replace(&mut self.denoiser_file, want), old));
        Ok(())
    }

    /// The embedding of a prompt; the null embedding for an empty prompt.
    /// Results are cached per prompt.
    pub fn embed(&mut self, prompt: &str) -> Result<Vec<f32>> {
        let prompt = prompt.trim();
        if prompt.is_empty() {
            return Ok(self.manifest.null_embedding.clone());
        }
        if let Some(e) = self.embeddings.get(prompt) {
            return Ok(e.clone());
        }
        let file = self.manifest.text_encoder.clone();
        let enc = self
            .tokenizer
            .encode(prompt, true)
            .map_err(|e| EngineError::Input(format!("cannot tokenize \"{prompt}\": {e}")))?;
        let ids: Vec<i64> = enc.get_ids().iter().map(|&i| i64::from(i)).collect();
        let mask: Vec<i64> = enc.get_attention_mask().iter().map(|&m| i64::from(m)).collect();
        let len = ids.len();
        let ids = Tensor::from_array(([1usize, len], ids)).map_err(inference)?;
        let mask = Tensor::from_array(([1usize, len], mask)).map_err(inference)?;
        let outputs =
            self.text_encoder.run(ort::inputs!["input_ids" => ids, "attention_mask" => mask]).map_err(inference)?;
        let (shape, data) = outputs["embedding"].try_extract_tensor::<f32>().map_err(inference)?;
        let d = self.manifest.embedding_dim;
        if shape.len() != 2 || shape[0] != 1 || shape[1] as usize != d {
            return Err(EngineError::contract(
                file,
                format!("`embedding` has shape {:?}, expected [1, {d}]", &shape[..]),
            ));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::contract(
                file,
                format!("`embedding` of \"{prompt}\" holds NaN or infinite values"),
            ));
        }
        let e = data.to_vec();
        self.embeddings.insert(prompt.to_string(), e.clone());
        Ok(e)
    }
}

impl Denoiser for Model {
    fn channels(&self) -> usize {
        self.manifest.channels
    }

    fn takes_context(&self) -> bool {
        self.takes_context
    }

    fn denoise(
        &mut self,
        x: &[f32],
        frames: usize,
        sigma: &[f32],
        embedding: &[f32],
        context: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let b = sigma.len();
        let (c, d) = (self.manifest.channels, self.manifest.embedding_dim);
        debug_assert_eq!(x.len(), b * c * frames);
        debug_assert_eq!(embedding.len(), b * d);
        if !self.takes_context && context.is_some() {
            return Err(EngineError::Input(format!(
                "the model {} has no `context` input, so it cannot hear the given tracks",
                self.manifest.name
            )));
        }
        let (n, takes_context, file) = (c * frames, self.takes_context, self.manifest.denoiser.as_str());
        self.denoiser.run(b, |session, rows| {
            let batch = Batch {
                x: &x[rows.start * n..rows.end * n],
                frames,
                sigma: &sigma[rows.clone()],
                embedding: &embedding[rows.start * d..rows.end * d],
                context: takes_context.then(|| context.map(|ctx| &ctx[rows.start * n..rows.end * n])),
            };
            batch.run(session, c, file)
        })
    }
}

/// Rows of one denoiser call, as the contract's inputs.
struct Batch<'a> {
    x: &'a [f32],
    frames: usize,
    sigma: &'a [f32],
    embedding: &'a [f32],
    /// `None` if the network has no `context` input; `Some(None)` if it has
    /// one but the rows hear nothing (zeros).
    context: Option<Option<&'a [f32]>>,
}

impl Batch<'_> {
    /// The denoised rows, from `session` (`c` channels; `file` names the
    /// network in errors).
    fn run(&self, session: &mut Session, c: usize, file: &str) -> Result<Vec<f32>> {
        let (b, frames) = (self.sigma.len(), self.frames);
        let d = self.embedding.len() / b.max(1);
        let xt = Tensor::from_array(([b, c, frames], self.x.to_vec())).map_err(inference)?;
        let st = Tensor::from_array(([b], self.sigma.to_vec())).map_err(inference)?;
        let et = Tensor::from_array(([b, d], self.embedding.to_vec())).map_err(inference)?;
        let mut inputs = ort::inputs!["x" => xt, "sigma" => st, "embedding" => et];
        if let Some(context) = self.context {
            let ctx = context.map_or_else(|| vec![0.0; self.x.len()], <[f32]>::to_vec);
            debug_assert_eq!(ctx.len(), self.x.len());
            inputs.push(("context".into(), Tensor::from_array(([b, c, frames], ctx)).map_err(inference)?.into()));
        }
        let outputs = session.run(inputs).map_err(inference)?;
        let (shape, data) = outputs["denoised"].try_extract_tensor::<f32>().map_err(inference)?;
        if shape.iter().map(|&s| s as usize).collect::<Vec<_>>() != [b, c, frames] {
            return Err(EngineError::contract(
                file,
                format!("`denoised` has shape {:?}, expected [{b}, {c}, {frames}]", &shape[..]),
            ));
        }
        Ok(data.to_vec())
    }
}

/// The denoiser's sessions and the provider they run on.
struct OpenedDenoiser {
    pool: RowPool<Session>,
    provider: Provider,
    warning: Option<String>,
    /// The file the sessions run.
    file: String,
}

/// Opens the denoiser: on the CPU the manifest's CPU denoiser in a pool of
/// sessions (see [`open_cpu_pool`] and `row_pool`); on a GPU `denoiser` in
/// one session fed whole batches.
fn open_denoiser(dir: &Path, manifest: &Manifest, options: &RuntimeOptions) -> Result<OpenedDenoiser> {
    let mut warning = None;
    if options.provider != Provider::Cpu {
        let opened = open_session(&dir.join(&manifest.denoiser), options)?;
        if opened.provider != Provider::Cpu {
            let pool = RowPool::new(vec![opened.session], None);
            return Ok(OpenedDenoiser {
                pool,
                provider: opened.provider,
                warning: None,
                file: manifest.denoiser.clone(),
            });
        }
        warning = opened.warning;
    }
    let file = manifest.cpu_denoiser(options.full_precision).to_string();
    let pool = open_cpu_pool(&dir.join(&file), options)?;
    Ok(OpenedDenoiser { pool, provider: Provider::Cpu, warning, file })
}

/// A denoiser file on the CPU: one session per thread (at most
/// [`MAX_CPU_SESSIONS`], the threads shared among them), each fed one row
/// per call.
fn open_cpu_pool(path: &Path, options: &RuntimeOptions) -> Result<RowPool<Session>> {
    let threads = options.thread_count();
    let sessions = threads.min(MAX_CPU_SESSIONS);
    let cpu = RuntimeOptions { provider: Provider::Cpu, threads: Some(threads / sessions), ..options.clone() };
    let members = (0..sessions).map(|_| open_session(path, &cpu).map(|o| o.session)).collect::<Result<Vec<_>>>()?;
    Ok(RowPool::new(members, Some(1)))
}

fn inference(e: impl std::fmt::Display) -> EngineError {
    EngineError::Inference(e.to_string())
}

/// Expected element type and shape of one graph input or output; `None`
/// dims must be dynamic, `Some(n)` dims fixed to n.
struct Port {
    name: &'static str,
    ty: TensorElementType,
    dims: Vec<Option<usize>>,
}

fn check_ports(file: &str, what: &str, actual: &[ort::value::Outlet], expected: &[Port]) -> Result<()> {
    check_port_types(file, what, actual, expected)?;
    if what == "input" && actual.len() != expected.len() {
        let names: Vec<&str> = actual.iter().map(|o| o.name()).collect();
        return Err(EngineError::contract(
            file,
            format!(
                "must have exactly the inputs {}, found: {}",
                expected.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Checks that each expected port exists with its type and shape.
fn check_port_types(file: &str, what: &str, actual: &[ort::value::Outlet], expected: &[Port]) -> Result<()> {
    for port in expected {
        let Some(outlet) = actual.iter().find(|o| o.name() == port.name) else {
            let names: Vec<&str> = actual.iter().map(|o| o.name()).collect();
            return Err(EngineError::contract(
                file,
                format!("has no {what} named `{}` (it has: {})", port.name, names.join(", ")),
            ));
        };
        let ValueType::Tensor { ty, shape, .. } = outlet.dtype() else {
            return Err(EngineError::contract(file, format!("{what} `{}` must be a tensor", port.name)));
        };
        if *ty != port.ty {
            return Err(EngineError::contract(
                file,
                format!("{what} `{}` must be {:?}, found {ty:?}", port.name, port.ty),
            ));
        }
        if shape.len() != port.dims.len() {
            return Err(EngineError::contract(
                file,
                format!("{what} `{}` must have rank {}, found shape {:?}", port.name, port.dims.len(), &shape[..]),
            ));
        }
        for (i, (&got, want)) in shape.iter().zip(&port.dims).enumerate() {
            let ok = match want {
                Some(n) => got == *n as i64 || got < 0,
                None => got < 0,
            };
            if !ok {
                let rule = match want {
                    Some(n) => format!("dimension {i} of {what} `{}` must be {n}, found {got}", port.name),
                    None => format!("dimension {i} of {what} `{}` must be dynamic, found {got}", port.name),
                };
                return Err(EngineError::contract(file, rule));
            }
        }
    }
    Ok(())
}

/// Checks the denoiser's ports; returns whether it has the optional
/// `context` input.
fn check_denoiser(m: &Manifest, file: &str, s: &Session) -> Result<bool> {
    let (c, d) = (Some(m.channels), Some(m.embedding_dim));
    let f = TensorElementType::Float32;
    let mut inputs = vec![
        Port { name: "x", ty: f, dims: vec![None, c, None] },
        Port { name: "sigma", ty: f, dims: vec![None] },
        Port { name: "embedding", ty: f, dims: vec![None, d] },
    ];
    let takes_context = s.inputs().iter().any(|o| o.name() == "context");
    if takes_context {
        inputs.push(Port { name: "context", ty: f, dims: vec![None, c, None] });
    }
    check_ports(file, "input", s.inputs(), &inputs)?;
    check_ports(file, "output", s.outputs(), &[Port { name: "denoised", ty: f, dims: vec![None, c, None] }])?;
    Ok(takes_context)
}

fn check_text_encoder(m: &Manifest, s: &Session) -> Result<()> {
    let i = TensorElementType::Int64;
    check_ports(
        &m.text_encoder,
        "input",
        s.inputs(),
        &[
            Port { name: "input_ids", ty: i, dims: vec![None, None] },
            Port { name: "attention_mask", ty: i, dims: vec![None, None] },
        ],
    )?;
    check_ports(
        &m.text_encoder,
        "output",
        s.outputs(),
        &[Port { name: "embedding", ty: TensorElementType::Float32, dims: vec![None, Some(m.embedding_dim)] }],
    )
}
