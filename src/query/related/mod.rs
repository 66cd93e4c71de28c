//! Relations without N+1: joined loading ([`SelectRelated`], Django's `select_related`), batched
//! loading ([`prefetch`], Django's `prefetch_related`), and filtering across a relation
//! ([`QuerySet::filter_related`]).

mod filter;
mod joined;
pub(crate) mod prefetch;

pub(crate) use filter::related_match;
pub use joined::{Also, Joins, SelectRelated, WithRelated};
