//! Jiceng (基层治理平台): the platform for a district's township and street reform.
//!
//! One folder per bounded context (`orgs`, `auth`, `audit`, …) holds its model, storage,
//! routes and pages; `db` and `web` are the shared plumbing.

pub mod audit;
pub mod auth;
pub mod cases;
pub mod catalog;
pub mod config;
pub mod db;
pub mod delegation;
pub mod demo;
pub mod error;
pub mod grids;
pub mod ids;
pub mod open311;
pub mod orgs;
pub mod time;
pub mod typed;
pub mod web;
pub mod workdays;
pub mod workflow;

pub use config::Settings;
pub use db::Db;
