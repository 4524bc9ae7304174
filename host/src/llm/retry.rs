//! Bounded retries with backoff (being written).
