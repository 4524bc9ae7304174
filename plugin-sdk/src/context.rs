//! What the host tells a tool about the call it is serving.

/// The call being served. Informational: access decisions were already made by the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The host's id for this call (appears in the host's logs and audit record).
    pub call_id: String,
    /// The agent run the call belongs to, if any.
    pub run_id: Option<String>,
    /// The tool assignment the call is made through, if any.
    pub assignment_id: Option<String>,
}

impl From<crate::bindings::corral::tool::types::CallContext> for Context {
    fn from(ctx: crate::bindings::corral::tool::types::CallContext) -> Self {
        Self {
            call_id: ctx.call_id,
            run_id: ctx.run_id,
            assignment_id: ctx.assignment_id,
        }
    }
}
