//! The kinds of task, the separation methods and the accompaniment
//! couplings, by the names that
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

/// How accompaniment makes the generated stems hear the given tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accompaniment {
    /// `context` when the model has the input, else `mixture`.
    Auto,
    /// The network hears the given tracks through its `context` input.
    Context,
    /// Eq. 12: coupled through the mixture's prior and likelihoods.
    Mixture,
}

impl Accompaniment {
    /// Names of the choices, as settings spell them.
    pub const NAMES: [&'static str; 3] = ["auto", "context", "mixture"];

    /// The choice of a name in [`Accompaniment::NAMES`].
    pub fn from_name(name: &str) -> Option<Accompaniment> {
        [Self::Auto, Self::Context, Self::Mixture].into_iter().find(|m| m.name() == name)
    }

    /// This choice's name (one of [`Accompaniment::NAMES`]).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => Self::NAMES[0],
            Self::Context => Self::NAMES[1],
            Self::Mixture => Self::NAMES[2],
        }
    }

    /// What runs for a model that has (`takes_context`) or lacks the
    /// `context` input: `auto` becomes `context` or `mixture`.
    pub fn for_model(self, takes_context: bool) -> Accompaniment {
        match self {
            Self::Auto if takes_context => Self::Context,
            Self::Auto => Self::Mixture,
            chosen => chosen,
        }
    }

    /// How the generated stems heard the given tracks, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Auto => "as the model allows",
            Self::Context => "the model heard the given tracks",
            Self::Mixture => "coupled through the mixture (eq. 12)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_accompaniment_hears_the_context_only_where_the_model_has_it() {
        assert_eq!(Accompaniment::Auto.for_model(true), Accompaniment::Context);
        assert_eq!(Accompaniment::Auto.for_model(false), Accompaniment::Mixture);
        assert_eq!(Accompaniment::Mixture.for_model(true), Accompaniment::Mixture);
        assert_eq!(Accompaniment::Context.for_model(false), Accompaniment::Context, "refused by the job, not here");
        for name in Accompaniment::NAMES {
            assert_eq!(Accompaniment::from_name(name).map(Accompaniment::name), Some(name));
        }
        assert_eq!(Accompaniment::from_name("eq12"), None);
        // The editor shows how the generated stems heard the given tracks.
        assert_eq!(Accompaniment::Context.describe(), "the model heard the given tracks");
        assert_eq!(Accompaniment::Mixture.describe(), "coupled through the mixture (eq. 12)");
    }

    #[test]
    fn task_kinds_go_by_their_model_json_names_and_two_of_them_separate() {
        let names = TaskKind::ALL.map(TaskKind::name);
        assert_eq!(names, ["accompany", "separate", "extract", "generate"]);
        let separating = TaskKind::ALL.map(TaskKind::separates);
        assert_eq!(separating, [false, true, true, false]);
    }
}
