//! Task tokens: a random secret minted when a task starts, handed to the
//! task (as `OPENPISTA_TASK_TOKEN`) and accepted by its task API only while
//! the task runs. The token proves to the task API that a request comes
//! from inside the task (or someone it told), and dies with the task, so a
//! token that leaks into output or a report is worthless afterwards.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The tokens of the tasks running now, by task id.
#[derive(Debug, Default)]
pub struct TokenTable {
    live: Mutex<HashMap<String, String>>,
}

impl TokenTable {
    pub fn new() -> Arc<TokenTable> {
        Arc::new(TokenTable::default())
    }

    /// Mints a fresh token (32 random bytes, hex) for `task_id`, valid until
    /// the lease is revoked or dropped.
    pub fn mint(self: &Arc<Self>, task_id: &str) -> TokenLease {
        let token = hex::encode(rand::random::<[u8; 32]>());
        self.live
            .lock()
            .unwrap()
            .insert(task_id.to_string(), token.clone());
        TokenLease {
            table: self.clone(),
            task_id: task_id.to_string(),
            token,
        }
    }

    /// Whether `token` belongs to a task running now.
    pub fn is_valid(&self, token: &str) -> bool {
        self.live
            .lock()
            .unwrap()
            .values()
            .fold(false, |found, live| found | same(live, token))
    }

    /// Whether `token` is the live token of task `task_id`.
    pub fn check(&self, task_id: &str, token: &str) -> bool {
        self.live
            .lock()
            .unwrap()
            .get(task_id)
            .is_some_and(|live| same(live, token))
    }

    /// How many tokens are live.
    pub fn live_count(&self) -> usize {
        self.live.lock().unwrap().len()
    }

    fn revoke(&self, task_id: &str) {
        self.live.lock().unwrap().remove(task_id);
    }
}

/// Compares without stopping at the first difference, so response timing
/// says nothing about how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A task's token; revoked when this is revoked or dropped, whatever way
/// the task ended.
#[derive(Debug)]
pub struct TokenLease {
    table: Arc<TokenTable>,
    task_id: String,
    token: String,
}

impl TokenLease {
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Ends the token's validity now.
    pub fn revoke(self) {}
}

impl Drop for TokenLease {
    fn drop(&mut self) {
        self.table.revoke(&self.task_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lives_as_long_as_its_lease() {
        let table = TokenTable::new();
        let a = table.mint("a");
        let b = table.mint("b");
        let token = a.token().to_string();
        assert_eq!(token.len(), 64);
        assert_ne!(token, b.token());
        assert!(table.is_valid(&token));
        assert!(table.check("a", &token));
        assert!(!table.check("b", &token), "a token is bound to its task");
        assert!(!table.is_valid("nope"));
        a.revoke();
        assert!(!table.is_valid(&token));
        assert!(!table.check("a", &token));
        drop(b);
        assert_eq!(table.live_count(), 0);
    }
}
