//! The check every route that names an aggregate by id makes: the aggregate
//! belongs to the caller's workspace, or the answer is 404, exactly as for
//! an id that does not exist, so ids from elsewhere reveal nothing. The
//! owning workspace is the tenant of the stream's first event (strongly
//! consistent: a workflow created a moment ago is found at once).

use flowforge_domain::Aggregate;

use crate::{authentication::Caller, error::ApiError, state::AppState};

/// 404 naming `what` unless aggregate `A` with id `id` exists in the
/// caller's workspace.
///
/// # Errors
/// [`ApiError::NotFound`], or what the store fails with.
pub async fn ensure_in_workspace<A: Aggregate>(
    state: &AppState,
    caller: &Caller,
    id: &str,
    what: &str,
) -> Result<(), ApiError>
where
    ApiError: From<flowforge_commands::CommandError<A::Error>>,
{
    let scope = caller.scope()?;
    match state.commands.tenant_of::<A>(id).await? {
        Some(tenant) if scope.contains(&tenant) => Ok(()),
        _ => Err(ApiError::NotFound(format!("{what} {id}"))),
    }
}
