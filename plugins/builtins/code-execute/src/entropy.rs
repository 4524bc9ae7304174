//! `os.urandom` for the sandboxed interpreter, from WASI's `random` interface (the host's
//! cryptographic generator). The rest of `os` stays a stand-in (see `PRELUDE` in lib.rs), but
//! randomness is harmless to hand out and `secrets`, `uuid.uuid4` and `random.SystemRandom`
//! need it: without it they would fail, or worse, tempt code into weak fallbacks.

pub(crate) use _corral_entropy::module_def;

#[rustpython_vm::pymodule]
mod _corral_entropy {
    use rustpython_vm::{PyResult, VirtualMachine};

    /// Largest request served; more is almost certainly a mistake, and is refused with a
    /// clear error before the memory limit would end the call less helpfully.
    const MAX_BYTES: usize = 16 * 1024 * 1024;

    /// `os.urandom(size)`: `size` bytes from the host's secure generator.
    #[pyfunction]
    fn urandom(size: isize, vm: &VirtualMachine) -> PyResult<Vec<u8>> {
        let size = usize::try_from(size)
            .map_err(|_| vm.new_value_error("negative argument not allowed"))?;
        if size > MAX_BYTES {
            return Err(vm.new_value_error(format!(
                "os.urandom: at most {MAX_BYTES} bytes per call in the sandbox, not {size}"
            )));
        }
        let mut bytes = vec![0; size];
        getrandom::fill(&mut bytes).map_err(|e| {
            vm.new_os_error(format!("os.urandom: no randomness from the host: {e}"))
        })?;
        Ok(bytes)
    }
}
