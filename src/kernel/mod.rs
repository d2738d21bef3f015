//! kernel adapters
pub mod nft;
