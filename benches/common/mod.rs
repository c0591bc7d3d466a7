//! What both benchmarks print about the machine they ran on: the same
//! description the harness (`itsm-bench`) prints, from its own module.

// The harness's module also reads the load average, which these benches
// do not print.
#[allow(dead_code)]
#[path = "../../src/bin/itsm-bench/machine.rs"]
mod harness_machine;

pub use harness_machine::describe as machine;
