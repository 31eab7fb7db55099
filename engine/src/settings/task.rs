//! The kinds of task and the separation methods, by the names that
//! `model.json`, the CLI and the plugin's state use.

/// The four kinds of task, by their names in `model.json` `defaults`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// Separate a mixture into stems.
    Separate,
    /// Extract stems one by one from a mixture.
    Extract,
    /// Generate stems under given sources.
    Accompany,
    /// Generate all stems from nothing.
    Generate,
}

impl TaskKind {
    /// Every kind, in the order the editor lists them.
    pub const ALL: [TaskKind; 4] = [Self::Accompany, Self::Separate, Self::Extract, Self::Generate];

    /// Name used in `model.json` `defaults`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Separate => "separate",
            Self::Extract => "extract",
            Self::Accompany => "accompany",
            Self::Generate => "generate",
        }
    }

    /// Whether the task splits a given mixture (separate, extract).
    pub fn separates(self) -> bool {
        matches!(self, Self::Separate | Self::Extract)
    }
}

/// A separation method (docs/method.md §2: eq. 13 and 14 of the paper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Dirac separator with one constrained stem (eq. 13).
    Separator,
    /// One extractor per stem (eq. 14).
    Extractor,
    /// Separator for the constrained stem, extractor for the others.
    Ensemble,
}

impl Method {
    /// Names of the methods, as settings spell them.
    pub const NAMES: [&'static str; 3] = ["separator", "extractor", "ensemble"];

    /// The method of a name in [`Method::NAMES`] (the `method` setting
    /// checks names, so this never sees another).
    pub fn from_name(name: &str) -> Option<Method> {
        [Self::Separator, Self::Extractor, Self::Ensemble].into_iter().find(|m| m.name() == name)
    }

    /// This method's name (one of [`Method::NAMES`]).
    pub fn name(self) -> &'static str {
        match self {
            Self::Separator => Self::NAMES[0],
            Self::Extractor => Self::NAMES[1],
            Self::Ensemble => Self::NAMES[2],
        }
    }
}
