//! `corral:tool/database`: SQL against the operator's data database, scoped per assignment.
//!
//! The interface is part of the 0.1.0 contract so tools can be written against it now. The
//! scoped SQL engine (statement parsing, relation checks, read-only transactions) arrives with
//! the builtin database tools; until a grant type exists here, every call is `denied`, which is
//! exactly the deny-by-default answer a tool without a database grant gets.

use crate::bindings::corral::tool::database::{self as wit, DatabaseError, QueryResult, SqlValue};
use wasmtime::component::{HasData, Linker};

/// Per-call database state. No grant can be expressed yet, so it always denies.
#[derive(Debug, Clone, Default)]
pub struct DatabaseCtx {
    _private: (),
}

impl DatabaseCtx {
    /// No database access.
    pub fn denied() -> Self {
        Self::default()
    }

    fn refuse(&self) -> DatabaseError {
        DatabaseError::Denied("no database access is granted to this tool assignment".into())
    }
}

/// Borrowed view the generated `Host` trait is implemented for.
pub struct DatabaseView<'a> {
    ctx: &'a DatabaseCtx,
}

impl<'a> DatabaseView<'a> {
    /// A view over `ctx`.
    pub fn new(ctx: &'a DatabaseCtx) -> Self {
        Self { ctx }
    }
}

impl wit::Host for DatabaseView<'_> {
    async fn query(
        &mut self,
        _sql: String,
        _params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<QueryResult, DatabaseError>> {
        Ok(Err(self.ctx.refuse()))
    }

    async fn execute(
        &mut self,
        _sql: String,
        _params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<u64, DatabaseError>> {
        Ok(Err(self.ctx.refuse()))
    }
}

struct HasDatabase;

impl HasData for HasDatabase {
    type Data<'a> = DatabaseView<'a>;
}

/// Adds `corral:tool/database` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> DatabaseView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasDatabase>(linker, view)
}
