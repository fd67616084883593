//! AQL.
