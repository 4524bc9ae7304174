//! `export_tools!`: turns a list of [`Tool`](crate::Tool)s into the component's exports.

/// Exports the listed tools as this component's `corral:tool/tool` implementation.
/// Use it once, at the crate root of a `cdylib`:
///
/// ```text
/// corral_plugin_sdk::export_tools![
///     Tool::new("add", "Adds two numbers.", add),
///     Tool::new("delete_note", "Deletes a note.", delete_note).confirmation(Confirmation::Always),
/// ];
/// ```
///
/// It also defines `fn corral_tools() -> Vec<Tool>` in the calling module, so native tests can
/// call the tools through [`testing`](crate::testing) without a host.
#[macro_export]
macro_rules! export_tools {
    ($($tool:expr),+ $(,)?) => {
        /// The tools this component exports, in order.
        pub fn corral_tools() -> ::std::vec::Vec<$crate::Tool> {
            ::std::vec![$($tool),+]
        }

        #[doc(hidden)]
        pub struct __CorralComponent;

        impl $crate::__private::Guest for __CorralComponent {
            fn describe() -> ::std::vec::Vec<$crate::__private::ToolDescriptor> {
                $crate::__private::describe(&corral_tools())
            }

            fn invoke(
                name: ::std::string::String,
                arguments: ::std::string::String,
                context: $crate::__private::CallContext,
            ) -> ::std::result::Result<::std::string::String, $crate::__private::WitToolError> {
                $crate::__private::invoke(&corral_tools(), &name, &arguments, context)
            }
        }

        $crate::bindings::__export_tool_plugin!(__CorralComponent with_types_in $crate::bindings);
    };
}
