//! Unit tests of the CNI protocol layer, by area.
