//! Geography is shared with other services: see `kit::geo`.

pub use kit::geo::*;
