/// Everything that can go wrong when teaching a [`crate::Router`].
///
/// Routing itself never fails: any string can be routed, and a text the router can say nothing
/// about gets no suggestions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The label is empty (after trimming) or longer than [`crate::MAX_LABEL_CHARS`].
    #[error("invalid label: {0}")]
    InvalidLabel(String),

    /// The text has nothing to learn from: empty, or only punctuation and spaces.
    #[error("the text has no words to learn from")]
    NoFeatures,

    /// `unlearn` was asked to remove an example that was never learnt under this label (or was
    /// already removed). Nothing was changed.
    #[error("this text was not learnt as `{label}`")]
    NotLearnt { label: String },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
