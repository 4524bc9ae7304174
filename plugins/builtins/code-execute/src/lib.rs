//! Builtin tool `code_execute`: runs Python code with RustPython, compiled into this component.
//!
//! The sandbox is the component itself: no network (no HTTP grant, and the interpreter has no
//! sockets), no files (no preopened directories; `open` and `os` fail), memory and wall time
//! capped by the host (an endless loop is stopped at the call's time limit). Each call gets a
//! fresh instance and so a fresh interpreter: nothing survives between calls.
//!
//! Like a notebook cell, the value of a trailing expression is returned (its `repr`), besides
//! what the code printed; an exception comes back as its traceback, for the model to fix.

mod entropy;

use corral_plugin_sdk::prelude::*;
use rustpython_vm::builtins::PyBaseExceptionRef;
use rustpython_vm::compiler::Mode;
use rustpython_vm::{Interpreter, InterpreterBuilder, PyObjectRef, Settings, VirtualMachine};

/// Most characters of stdout (and of stderr) returned; the rest is cut with a flag.
const MAX_STREAM_CHARS: usize = 64 * 1024;
/// Most characters of the last value's repr.
const MAX_RESULT_CHARS: usize = 16 * 1024;
/// Longest program accepted.
const MAX_CODE_BYTES: usize = 256 * 1024;

/// Arguments of `code_execute`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Args {
    /// Python 3 source to run, e.g. `import math\nmath.factorial(20)`. The standard library
    /// is available (math, json, re, datetime, collections, itertools, statistics, ...);
    /// files, network and subprocesses are not. If the last statement is an expression, its
    /// value is returned as `result`. Use print() for anything else you want to see.
    code: String,
}

/// What `code_execute` returns.
#[derive(Serialize, JsonSchema)]
struct Output {
    /// True when the code ran to the end without an exception.
    ok: bool,
    /// What the code printed to standard output.
    stdout: String,
    /// What the code wrote to standard error.
    stderr: String,
    /// `repr()` of the last expression's value, when the code ends with an expression that
    /// is not None.
    result: Option<String>,
    /// The traceback, when the code raised an exception (including SyntaxError).
    error: Option<String>,
    /// True when stdout, stderr or result was cut to fit.
    truncated: bool,
}

fn code_execute(args: Args, _ctx: &Context) -> Result<Output, ToolError> {
    if args.code.len() > MAX_CODE_BYTES {
        return Err(ToolError::invalid(format!(
            "the code is {} bytes; at most {MAX_CODE_BYTES} are accepted",
            args.code.len()
        )));
    }
    if args.code.contains('\0') {
        return Err(ToolError::invalid("the code contains a NUL byte"));
    }
    let interpreter = interpreter();
    Ok(interpreter.enter(|vm| run(vm, &args.code)))
}

/// An interpreter that reads nothing from the environment or a filesystem: the standard
/// library is frozen into the component, `sys.path` is empty, no site module.
fn interpreter() -> Interpreter {
    let mut settings = Settings::default();
    settings.import_site = false;
    settings.ignore_environment = true;
    settings.isolated = true;
    settings.safe_path = true;
    settings.user_site_directory = false;
    settings.write_bytecode = false;
    settings.install_signal_handlers = false;
    settings.path_list = Vec::new();
    let builder = InterpreterBuilder::new().settings(settings);
    let native = rustpython_stdlib::stdlib_module_defs(&builder.ctx);
    let entropy = entropy::module_def(&builder.ctx);
    builder
        .add_native_modules(&native)
        .add_native_module(entropy)
        .add_frozen_modules(rustpython_pylib::FROZEN_STDLIB)
        .build()
}

/// Without a host OS layer there is no real `os` module, yet many pure-Python modules import
/// it (random, tempfile, ...). RustPython ships a stand-in; make every function of it fail
/// with a clear OSError instead of pretending to work, except `urandom`, which is real
/// (`entropy.rs`). It runs before the user's code, so `random` binds the real one on import.
const PRELUDE: &str = r#"
import sys
try:
    import _dummy_os as _os_stub
    def _unavailable(name):
        if name.startswith("__") or name == "_path_normpath":
            raise AttributeError(name)
        if name.isupper():
            return 0
        def function(*args, **kwargs):
            raise OSError(38, f"os.{name} is not available in the sandbox")
        function.__name__ = name
        return function
    _os_stub.__getattr__ = _unavailable
    # Called while `random` imports; harmless to answer.
    _os_stub.register_at_fork = lambda **kwargs: None
    _os_stub.cpu_count = lambda: 1
    _os_stub.getpid = lambda: 1
    _os_stub.environ = {}
    _os_stub.name = "posix"
    # os copies the stand-in's names when it is imported: patch both, whichever came first.
    from _corral_entropy import urandom as _urandom
    _os_stub.urandom = _urandom
    if "os" in sys.modules:
        sys.modules["os"].urandom = _urandom
    del _urandom
    del _os_stub, _unavailable
except ImportError:
    pass
"#;

fn run(vm: &VirtualMachine, code: &str) -> Output {
    let streams = capture(vm);
    let outcome = execute(vm, code);
    let (stdout, cut_out) = cut(read(vm, streams.as_ref().map(|s| &s.0)), MAX_STREAM_CHARS);
    let (stderr, cut_err) = cut(read(vm, streams.as_ref().map(|s| &s.1)), MAX_STREAM_CHARS);
    let (result, error, cut_result) = match outcome {
        Ok(Some(value)) => {
            let (value, cut_value) = cut(value, MAX_RESULT_CHARS);
            (Some(value), None, cut_value)
        }
        Ok(None) => (None, None, false),
        Err(traceback) => (None, Some(traceback), false),
    };
    Output {
        ok: error.is_none(),
        stdout,
        stderr,
        result,
        error,
        truncated: cut_out || cut_err || cut_result,
    }
}

/// Points `sys.stdout` and `sys.stderr` at in-memory buffers.
fn capture(vm: &VirtualMachine) -> Option<(PyObjectRef, PyObjectRef)> {
    let string_io = vm.import("_io", 0).ok()?.get_attr("StringIO", vm).ok()?;
    let out = string_io.call((), vm).ok()?;
    let err = string_io.call((), vm).ok()?;
    for (name, stream) in [
        ("stdout", &out),
        ("stderr", &err),
        ("__stdout__", &out),
        ("__stderr__", &err),
    ] {
        vm.sys_module.set_attr(name, stream.clone(), vm).ok()?;
    }
    Some((out, err))
}

fn read(vm: &VirtualMachine, stream: Option<&PyObjectRef>) -> String {
    stream
        .and_then(|s| vm.call_method(s, "getvalue", ()).ok())
        .and_then(|v| v.str(vm).ok())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs `code` as a module body; if its last statement is an expression, evaluates that
/// separately and returns its repr. An exception becomes its formatted traceback.
fn execute(vm: &VirtualMachine, code: &str) -> Result<Option<String>, String> {
    let traceback = |e: PyBaseExceptionRef| {
        let mut text = String::new();
        let _ = vm.write_exception(&mut text, &e);
        text
    };
    vm.run_string(vm.new_scope_with_builtins(), PRELUDE, "<prelude>")
        .map_err(traceback)?;
    let scope = vm.new_scope_with_main().map_err(traceback)?;
    let (body, last) = split_last_expression(code);
    let compiled = vm
        .compile(&body, Mode::Exec, "<code>")
        .map_err(|e| traceback(e.into_pyexception(vm, Some(code))))?;
    let _ = vm.register_code_in_linecache(&compiled, code);
    vm.run_code_obj(compiled, scope.clone())
        .map_err(traceback)?;
    let Some(last) = last else {
        return Ok(None);
    };
    let compiled = vm
        .compile(&last, Mode::Eval, "<code>")
        .map_err(|e| traceback(e.into_pyexception(vm, Some(code))))?;
    let value = vm.run_code_obj(compiled, scope).map_err(traceback)?;
    if vm.is_none(&value) {
        return Ok(None);
    }
    value
        .repr(vm)
        .map(|r| Some(r.to_string_lossy().into_owned()))
        .map_err(traceback)
}

/// `(everything before the last statement, the last statement)` when that statement is an
/// expression; the expression keeps its line number (it is preceded by as many newlines) so
/// a traceback points at the right line.
fn split_last_expression(code: &str) -> (String, Option<String>) {
    use rustpython_vm::compiler::ast::Stmt;
    use rustpython_vm::compiler::parser::parse_module;
    let Ok(parsed) = parse_module(code) else {
        // The real compile reports the SyntaxError with its position.
        return (code.to_string(), None);
    };
    match parsed.syntax().body.last() {
        Some(Stmt::Expr(expression)) => {
            let start = usize::from(expression.range.start());
            let end = usize::from(expression.range.end());
            let (Some(head), Some(tail)) = (code.get(..start), code.get(start..end)) else {
                return (code.to_string(), None);
            };
            let lines = head.matches('\n').count();
            (
                head.to_string(),
                Some(format!("{}{tail}", "\n".repeat(lines))),
            )
        }
        _ => (code.to_string(), None),
    }
}

fn cut(text: String, max_chars: usize) -> (String, bool) {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => (text[..at].to_string(), true),
        None => (text, false),
    }
}

corral_plugin_sdk::export_tools![
    Tool::new(
        "code_execute",
        "Runs a Python 3 program in an isolated sandbox and returns what it printed, the value \
         of its last expression and, if it failed, the traceback. Use it for calculations, data \
         transformation and checking logic. The standard library is available; files, network, \
         subprocesses and installing packages are not, and each call starts from a fresh \
         interpreter (nothing is kept between calls). Long-running code is stopped at the time \
         limit.",
        code_execute
    )
    .output_schema::<Output>()
    .confirmation(Confirmation::Always)
    .tool_type("code"),
];
