//! The `tool` world: a set of named tools the agent can call.

use std::marker::PhantomData;

use crate::bindings::tool::exports::openpista::plugin::tools;
use crate::{Args, CallContext, Error, ToolResult, ToolSpec};

/// A component that offers tools to the agent.
///
/// Implement it on a unit struct and export it with
/// [`export_tool!`](crate::export_tool). Each call usually runs in a fresh
/// instance, so keep nothing in statics between calls: use
/// [`memory`](crate::memory) for anything that must last.
///
/// ```no_run
/// use openpista_sdk::prelude::*;
///
/// struct Greeter;
///
/// impl Tool for Greeter {
///     fn tools() -> Vec<ToolSpec> {
///         vec![ToolSpec::new(
///             "greet.hello",
///             "Greets someone by name.",
///             json!({
///                 "type": "object",
///                 "properties": { "name": { "type": "string" } },
///                 "required": ["name"]
///             }),
///         )]
///     }
///
///     fn invoke(name: &str, args: Args, _ctx: CallContext) -> Result<ToolResult, Error> {
///         match name {
///             "greet.hello" => {
///                 let name: String = args.json()?["name"].as_str().unwrap_or("you").into();
///                 Ok(ToolResult::text(format!("Hello, {name}!")))
///             }
///             other => Err(Error::not_found(format!("no tool `{other}`"))),
///         }
///     }
/// }
///
/// openpista_sdk::export_tool!(Greeter);
/// ```
pub trait Tool {
    /// The tools this component offers. The host asks once per loaded
    /// version, so the answer must not depend on configuration or time.
    fn tools() -> Vec<ToolSpec>;

    /// Runs tool `name` (one of [`Tool::tools`]) with `args`.
    ///
    /// Return [`Error::NotFound`] for an unknown name and
    /// [`Error::InvalidInput`] for arguments that do not fit (what
    /// [`Args::parse`] gives). A failure the model should read and may
    /// recover from is an `Ok(`[`ToolResult::error`]`)` instead.
    fn invoke(name: &str, args: Args, ctx: CallContext) -> Result<ToolResult, Error>;
}

/// Adapts a [`Tool`] to the generated `tools` interface; used by
/// [`export_tool!`](crate::export_tool).
#[doc(hidden)]
pub struct ToolExport<T>(PhantomData<T>);

impl<T: Tool> tools::Guest for ToolExport<T> {
    fn list_tools() -> Vec<ToolSpec> {
        T::tools()
    }

    fn invoke(name: String, arguments: String, context: CallContext) -> Result<ToolResult, Error> {
        T::invoke(&name, Args::new(arguments), context)
    }
}

/// Exports a [`Tool`] implementation as this component's `tools` interface.
///
/// Use it once, at the crate root of a `cdylib` crate:
/// `openpista_sdk::export_tool!(MyTools);`
#[macro_export]
macro_rules! export_tool {
    ($component:ty) => {
        const _: () = {
            type __OpenpistaToolExport = $crate::tool::ToolExport<$component>;
            $crate::bindings::tool::export!(
                __OpenpistaToolExport with_types_in $crate::bindings::tool
            );
        };
    };
}
