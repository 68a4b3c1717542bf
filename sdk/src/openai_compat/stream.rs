//! Reading a streamed answer: the loop that pulls a response body chunk by
//! chunk, parses its server-sent events and hands them to the API's own
//! [`StreamState`], which turns them into [`StreamEvent`]s.
//!
//! The loop is the same for every OpenAI-style API; what the events mean is
//! not, and lives in each component's `StreamState`, which does no I/O and
//! is tested natively.

use serde_json::Value;

use crate::http::StreamingResponse;
use crate::sse::{SseEvent, SseParser};
use crate::{ChatStream, Error, StreamEvent};

use super::wire::excerpt;

/// What an API makes of its stream's events.
pub trait StreamState {
    /// Handles one server-sent event; an error ends the stream once the
    /// events queued before it are delivered.
    fn on_event(&mut self, event: &SseEvent) -> Result<(), Error>;
    /// The body ended: queue what is left, or say why the answer is
    /// incomplete.
    fn on_end(&mut self) -> Result<(), Error>;
    /// The next queued event.
    fn pop(&mut self) -> Option<StreamEvent>;
    /// Whether the answer is complete (its `Finished` event is queued).
    fn is_done(&self) -> bool;
}

/// A body read piece by piece: a [`StreamingResponse`], or bytes in tests.
pub trait Chunks {
    /// The next piece, `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error>;
}

impl Chunks for StreamingResponse {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        StreamingResponse::next_chunk(self)
    }
}

/// A live answer: reads the body as it arrives and hands out the events its
/// [`StreamState`] makes of it, one at a time.
pub struct SseStream<S, B = StreamingResponse> {
    provider: &'static str,
    body: B,
    parser: SseParser,
    state: S,
    /// An error met while events parsed before it are still queued; it is
    /// returned once they have been delivered.
    failed: Option<Error>,
    /// The stream failed; nothing follows.
    stopped: bool,
}

impl<S: StreamState, B: Chunks> SseStream<S, B> {
    /// Streams `body` (a 2xx `text/event-stream` answer) through `state`;
    /// `provider` names the component in transport errors.
    pub fn new(provider: &'static str, body: B, state: S) -> Self {
        SseStream {
            provider,
            body,
            parser: SseParser::new(),
            state,
            failed: None,
            stopped: false,
        }
    }

    /// A transport error while reading, with the provider in front.
    fn reading_error(&self, error: Error) -> Error {
        let prefix = format!("{}: reading the stream: ", self.provider);
        match error {
            Error::Upstream(mut u) => {
                u.message.insert_str(0, &prefix);
                Error::Upstream(u)
            }
            Error::Timeout(m) => Error::timeout(format!("{prefix}{m}")),
            other => other,
        }
    }
}

impl<S: StreamState, B: Chunks> ChatStream for SseStream<S, B> {
    fn next(&mut self) -> Result<Option<StreamEvent>, Error> {
        loop {
            if let Some(event) = self.state.pop() {
                return Ok(Some(event));
            }
            if let Some(error) = self.failed.take() {
                self.stopped = true;
                return Err(error);
            }
            if self.state.is_done() || self.stopped {
                return Ok(None);
            }
            let chunk = self.body.next_chunk().map_err(|e| self.reading_error(e))?;
            let (events, ended) = match chunk {
                Some(bytes) => (self.parser.push(&bytes), false),
                None => (self.parser.finish(), true),
            };
            let mut result = Ok(());
            for event in &events {
                result = self.state.on_event(event);
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() && ended {
                result = self.state.on_end();
            }
            if let Err(error) = result {
                // What came before the bad event is delivered first.
                self.failed = Some(error);
            }
        }
    }
}

/// An event's data as JSON; [`Error::Upstream`] quoting it when it is not.
pub fn event_json(provider: &str, data: &str) -> Result<Value, Error> {
    serde_json::from_str(data).map_err(|e| {
        Error::upstream(
            None,
            format!(
                "{provider}: the stream sent an event that is not valid JSON ({e}): {}",
                excerpt(data)
            ),
        )
    })
}

/// Feeds `text` (whole server-sent events, in one piece) to `state` and
/// returns the events it queued: how a component tests its [`StreamState`]
/// natively, without a body. The first error is returned as it is.
pub fn feed<S: StreamState>(state: &mut S, text: &str) -> Result<Vec<StreamEvent>, Error> {
    for event in SseParser::new().push(text.as_bytes()) {
        state.on_event(&event)?;
    }
    Ok(std::iter::from_fn(|| state.pop()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use crate::{FinishReason, StreamEnd};

    /// Each event's data is text to pass on; `bad` fails; `end` finishes.
    #[derive(Default)]
    struct Echo {
        queue: VecDeque<StreamEvent>,
        done: bool,
    }

    impl StreamState for Echo {
        fn on_event(&mut self, event: &SseEvent) -> Result<(), Error> {
            match event.data.as_str() {
                "bad" => Err(Error::upstream(None, "bad event")),
                "end" => {
                    self.done = true;
                    self.queue.push_back(StreamEvent::Finished(StreamEnd {
                        finish_reason: FinishReason::Stop,
                        usage: None,
                    }));
                    Ok(())
                }
                text => {
                    self.queue.push_back(StreamEvent::Text(text.into()));
                    Ok(())
                }
            }
        }
        fn on_end(&mut self) -> Result<(), Error> {
            Err(Error::upstream(None, "ended early"))
        }
        fn pop(&mut self) -> Option<StreamEvent> {
            self.queue.pop_front()
        }
        fn is_done(&self) -> bool {
            self.done
        }
    }

    struct Pieces(VecDeque<Result<Option<Vec<u8>>, Error>>);

    impl Chunks for Pieces {
        fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
            self.0.pop_front().unwrap_or(Ok(None))
        }
    }

    fn stream(pieces: Vec<Result<Option<&str>, Error>>) -> SseStream<Echo, Pieces> {
        let pieces = pieces
            .into_iter()
            .map(|p| p.map(|p| p.map(|s| s.as_bytes().to_vec())))
            .collect();
        SseStream::new("llm-test", Pieces(pieces), Echo::default())
    }

    fn text(t: &str) -> Option<StreamEvent> {
        Some(StreamEvent::Text(t.into()))
    }

    #[test]
    fn events_split_across_chunks_come_out_in_order_then_none() {
        let mut s = stream(vec![
            Ok(Some("data: a\n\nda")),
            Ok(Some("ta: b\n\ndata: end\n\n")),
        ]);
        assert_eq!(s.next().unwrap(), text("a"));
        assert_eq!(s.next().unwrap(), text("b"));
        assert!(matches!(s.next().unwrap(), Some(StreamEvent::Finished(_))));
        assert_eq!(s.next().unwrap(), None);
    }

    #[test]
    fn events_before_an_error_are_delivered_first_then_nothing() {
        for (body, error) in [
            // A bad event: what follows it is dropped.
            ("data: a\n\ndata: bad\n\ndata: c\n\n", "bad event"),
            // The body ends early (its last event needs no blank line).
            ("data: a", "ended early"),
        ] {
            let mut s = stream(vec![Ok(Some(body))]);
            assert_eq!(s.next().unwrap(), text("a"), "{body}");
            assert_eq!(s.next(), Err(Error::upstream(None, error)), "{body}");
            assert_eq!(s.next().unwrap(), None, "{body}");
        }
    }

    #[test]
    fn transport_errors_name_the_provider() {
        for (error, named) in [
            (
                Error::upstream(None, "reset"),
                Error::upstream(None, "llm-test: reading the stream: reset"),
            ),
            (
                Error::timeout("slow"),
                Error::timeout("llm-test: reading the stream: slow"),
            ),
            (Error::internal("odd"), Error::internal("odd")),
        ] {
            assert_eq!(stream(vec![Err(error)]).next(), Err(named));
        }
    }

    #[test]
    fn feed_returns_the_queued_events_or_the_first_error() {
        let mut state = Echo::default();
        assert_eq!(
            feed(&mut state, "data: a\n\ndata: b\n\n").unwrap(),
            vec![StreamEvent::Text("a".into()), StreamEvent::Text("b".into())]
        );
        assert_eq!(
            feed(&mut state, "data: bad\n\n"),
            Err(Error::upstream(None, "bad event"))
        );
        assert_eq!(feed(&mut state, "").unwrap(), vec![]);
    }

    #[test]
    fn event_data_must_be_json() {
        assert_eq!(event_json("p", "{\"a\":1}").unwrap()["a"], 1);
        let e = event_json("p", "{oops").unwrap_err();
        assert!(
            matches!(&e, Error::Upstream(u) if u.message.starts_with("p: the stream sent an event that is not valid JSON") && u.message.ends_with("{oops")),
            "{e}"
        );
    }
}
