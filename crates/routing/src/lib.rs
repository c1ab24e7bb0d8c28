//! Generic incremental text router for Jiceng: suggests a label for a case text and learns from
//! every confirmed or corrected routing.
//!
//! Labels are arbitrary strings (a GB/T 30428.2 event subclass, a responsible unit, a department
//! name); nothing about any label set is built in.
//!
//! ```
//! use routing::Router;
//!
//! let mut router = Router::new();
//! router.learn("对占用城市道路从事经营活动的处罚", "街面秩序-占道经营")?;
//! router.learn("小区垃圾桶满了三天没人清运", "市容环境-垃圾满溢")?;
//! router.learn("工地夜间施工噪音扰民", "施工管理-施工扰民")?;
//! let best = &router.route("路口有人占道经营卖水果", 3)[0];
//! assert_eq!(best.label, "街面秩序-占道经营");
//! # Ok::<(), routing::Error>(())
//! ```

mod error;
pub mod eval;
mod features;
mod router;

pub use error::{Error, Result};
pub use features::{DOMAIN_WORDS, MAX_TEXT_CHARS, normalize, warm_up};
pub use router::{Config, MAX_LABEL_CHARS, Router, Suggestion};
