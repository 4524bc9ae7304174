//! Corral placeholder
