//! Module imports in the sandbox: refused, at once.
//!
//! QuickJS hands a dynamic `import()` to the runtime's module resolver; with
//! none installed the returned promise never settles. The Code node is one
//! self-contained script, so [`RefuseModules`] is installed as resolver and
//! loader and rejects every import with a message that says so.

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Exception, Module};

/// What an `import()` is rejected with.
const REFUSAL: &str = "modules cannot be imported in the Code node";

/// A module resolver and loader that refuses every module.
pub(crate) struct RefuseModules;

impl Resolver for RefuseModules {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        _base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        Err(refuse(ctx, name))
    }
}

impl Loader for RefuseModules {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        // Unreachable while every name fails to resolve; refuse all the same.
        Err(refuse(ctx, name))
    }
}

/// Throws the refusal as a JavaScript `Error`, which rejects the import.
fn refuse(ctx: &Ctx<'_>, name: &str) -> rquickjs::Error {
    Exception::throw_message(ctx, &format!("{REFUSAL} (tried to import '{name}')"))
}
