//! Logs: `tracing` events written pretty (for a person at a terminal) or
//! as JSON lines (for a log pipeline), to stderr and, with `[log] file`,
//! to a file rotated daily. Every line passes through the redactors the
//! wiring registered ([`redact_with`]), whatever its format, so a secret
//! value the host knows never reaches a log.
//!
//! Which events are written: `--log-level`, else `OPENPISTA_LOG`, else
//! `[log] level`, else `warn,openpista=info` (each an `EnvFilter`
//! directive: `debug`, `warn,openpista::gateway=debug`, …).

use serde::Deserialize;
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tracing_subscriber::fmt::MakeWriter;

/// The filter when nothing sets one.
pub const DEFAULT_LEVEL: &str = "warn,openpista=info";

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event (coloured on a terminal).
    #[default]
    Pretty,
    /// One JSON object per line: `timestamp`, `level`, `target`,
    /// `message` and the event's fields.
    Json,
}

/// When the log file starts a new file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    /// `openpista.log.2026-12-06`, a new file each day (UTC).
    #[default]
    Daily,
    /// One file that grows.
    Never,
}

/// `[log]`: where logs go and how they look.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// An `EnvFilter` directive (`info`, `warn,openpista=debug`).
    pub level: Option<String>,
    pub format: LogFormat,
    /// Also write to this file (its folder is made private, 0700).
    pub file: Option<String>,
    pub rotation: Rotation,
    /// Rotated files kept; older ones are deleted.
    pub keep: usize,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: None,
            format: LogFormat::Pretty,
            file: None,
            rotation: Rotation::Daily,
            keep: 14,
        }
    }
}

/// What the command line says about logging.
#[derive(Debug, Clone, Default)]
pub struct LogFlags {
    /// `--log-level`.
    pub level: Option<String>,
    /// `--log-format`.
    pub format: Option<LogFormat>,
    /// The full-screen TUI owns the terminal: logs go only to this file.
    pub tui_file: Option<PathBuf>,
}

/// Something that knows secret values and replaces them in text.
pub trait Redact: Send + Sync {
    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str>;
}

static REDACTORS: RwLock<Vec<Arc<dyn Redact>>> = RwLock::new(Vec::new());

/// Passes every log line through `redactor` from now on.
pub fn redact_with(redactor: Arc<dyn Redact>) {
    REDACTORS.write().unwrap().push(redactor);
}

/// `text` as every registered redactor leaves it.
pub fn redact(text: &str) -> Cow<'_, str> {
    let redactors = REDACTORS.read().unwrap();
    let mut out = Cow::Borrowed(text);
    for r in redactors.iter() {
        if let Cow::Owned(changed) = r.redact(&out) {
            out = Cow::Owned(changed);
        }
    }
    out
}

/// The filter directive in force, and where it came from (for an error
/// that says which setting to fix).
fn directive(section: &LogSection, flags: &LogFlags) -> (String, &'static str) {
    if let Some(level) = &flags.level {
        return (level.clone(), "--log-level");
    }
    if let Ok(env) = std::env::var("OPENPISTA_LOG")
        && !env.is_empty()
    {
        return (env, "OPENPISTA_LOG");
    }
    match &section.level {
        Some(level) => (level.clone(), "[log] level"),
        None => (DEFAULT_LEVEL.to_string(), "the default"),
    }
}

/// Installs the process's subscriber: the log writers, each behind the
/// log filter, and the trace exporter when `[telemetry]` names a
/// collector (behind its own filter, so `--log-level warn` does not stop
/// traces). An error says which setting is wrong; a second call in one
/// process (tests) changes nothing.
pub fn init(
    section: &LogSection,
    flags: &LogFlags,
    telemetry: &super::traces::TelemetrySection,
) -> anyhow::Result<()> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    let (directive, source) = directive(section, flags);
    let filter = || {
        tracing_subscriber::EnvFilter::try_new(&directive)
            .map_err(|e| anyhow::anyhow!("{source} = {directive:?} is not a log filter: {e}"))
    };
    filter()?;
    let format = flags.format.unwrap_or(section.format);
    let mut layers: Vec<Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>> = Vec::new();
    match &flags.tui_file {
        Some(path) => {
            let file = open_append(path)?;
            let writer = Redacting(std::sync::Mutex::new(file));
            layers.push(
                layer(format, writer, false)
                    .with_filter(filter()?)
                    .with_filter(not_spans())
                    .boxed(),
            );
        }
        None => {
            use std::io::IsTerminal;
            let ansi = std::io::stderr().is_terminal();
            let writer = Redacting(std::io::stderr);
            layers.push(
                layer(format, writer, ansi)
                    .with_filter(filter()?)
                    .with_filter(not_spans())
                    .boxed(),
            );
        }
    }
    if let Some(file) = &section.file {
        let path = crate::paths::expand(file);
        let writer = Redacting(rolling(&path, section)?);
        layers.push(
            layer(format, writer, false)
                .with_filter(filter()?)
                .with_filter(not_spans())
                .boxed(),
        );
    }
    if let Some(exporter) = super::traces::layer(telemetry)? {
        let spans = tracing_subscriber::filter::Targets::new()
            .with_target(super::traces::TARGET, tracing::Level::INFO);
        layers.push(exporter.with_filter(spans).boxed());
    }
    // `try_init` also forwards the `log` records of crates that use `log`
    // (rustls, among others) into these layers.
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(())
}

/// The log writers leave the exported spans to the trace exporter: their
/// fields (the session, opted-in content) are not log lines.
fn not_spans() -> tracing_subscriber::filter::FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    tracing_subscriber::filter::filter_fn(|meta| meta.target() != super::traces::TARGET)
}

fn layer<W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer;
    let base = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Pretty => base.with_ansi(ansi).boxed(),
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
    }
}

fn open_append(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        crate::paths::private_dir(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open the log file {}: {e}", path.display()))
}

/// The `[log] file` writer: `DIR/NAME.YYYY-MM-DD` with daily rotation.
fn rolling(
    path: &Path,
    section: &LogSection,
) -> anyhow::Result<tracing_appender::rolling::RollingFileAppender> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        anyhow::bail!("[log] file = {:?} names no file", path.display());
    };
    crate::paths::private_dir(dir)
        .map_err(|e| anyhow::anyhow!("[log] file: cannot make {}: {e:#}", dir.display()))?;
    let rotation = match section.rotation {
        Rotation::Daily => tracing_appender::rolling::Rotation::DAILY,
        Rotation::Never => tracing_appender::rolling::Rotation::NEVER,
    };
    let mut builder = tracing_appender::rolling::Builder::new()
        .rotation(rotation)
        .filename_prefix(name.to_string_lossy());
    if section.rotation == Rotation::Daily {
        builder = builder.max_log_files(section.keep.max(1));
    }
    builder
        .build(dir)
        .map_err(|e| anyhow::anyhow!("[log] file = {}: {e}", path.display()))
}

/// A `MakeWriter` whose writers hold an event's whole line and write it
/// redacted when the formatter is done with it (the formatters write one
/// event per writer).
struct Redacting<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactedLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine {
            line: Vec::new(),
            inner: self.0.make_writer(),
        }
    }
}

struct RedactedLine<W: Write> {
    line: Vec<u8>,
    inner: W,
}

impl<W: Write> RedactedLine<W> {
    fn emit(&mut self) -> std::io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.line);
        let clean = redact(&text);
        let result = self.inner.write_all(clean.as_bytes());
        self.line.clear();
        result
    }
}

impl<W: Write> Write for RedactedLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactedLine<W> {
    fn drop(&mut self) {
        let _ = self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str);

    impl Redact for Fixed {
        fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
            if text.contains(self.0) {
                Cow::Owned(text.replace(self.0, "[redacted:test]"))
            } else {
                Cow::Borrowed(text)
            }
        }
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_is_written_whole_and_redacted_however_it_was_cut() {
        redact_with(Arc::new(Fixed("sk-unit-secret-4242")));
        let sink = Sink::default();
        {
            let mut line = RedactedLine {
                line: Vec::new(),
                inner: sink.clone(),
            };
            // The value arrives cut in two writes.
            line.write_all(b"{\"message\":\"key sk-unit-se").unwrap();
            line.write_all(b"cret-4242 refused\"}\n").unwrap();
            assert!(sink.0.lock().unwrap().is_empty(), "nothing before the end");
        }
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written, "{\"message\":\"key [redacted:test] refused\"}\n");
    }

    #[test]
    fn the_flag_wins_then_the_environment_then_the_file() {
        let section = LogSection {
            level: Some("debug".into()),
            ..LogSection::default()
        };
        let flags = LogFlags {
            level: Some("trace".into()),
            ..LogFlags::default()
        };
        assert_eq!(directive(&section, &flags), ("trace".into(), "--log-level"));
        // OPENPISTA_LOG is not read in this test's process unless set;
        // the section's level is next.
        if std::env::var("OPENPISTA_LOG").is_err() {
            assert_eq!(
                directive(&section, &LogFlags::default()),
                ("debug".into(), "[log] level")
            );
            assert_eq!(
                directive(&LogSection::default(), &LogFlags::default()).1,
                "the default"
            );
        }
    }

    #[test]
    fn a_bad_filter_names_its_source() {
        let flags = LogFlags {
            level: Some("openpista=loud".into()),
            ..LogFlags::default()
        };
        let err = init(&LogSection::default(), &flags, &Default::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--log-level"), "{err}");
        assert!(err.contains("openpista=loud"), "{err}");
    }
}
