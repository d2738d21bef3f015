//! Unit tests of the netavark plugin protocol layer.
