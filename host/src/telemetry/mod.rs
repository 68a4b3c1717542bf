//! What the host tells its operator about itself while it runs unattended:
//! metrics in the Prometheus text format ([`metrics`]), logs, pretty or
//! JSON, on stderr and in a daily-rotated file, with every secret value
//! redacted ([`logs`]), and traces of turns, provider requests and tool
//! calls for an OpenTelemetry collector ([`traces`]).
//!
//! The layer sits just above `paths`: every module below the command line
//! records through the functions here, so each metric's name, labels and
//! meaning are written once, in [`metrics`]; `cli` wires the exporter and
//! the log writer at start.

pub mod logs;
pub mod metrics;
pub mod traces;
