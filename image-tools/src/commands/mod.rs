//! One file per subcommand.

pub mod control;
pub mod exec;
pub mod image_build;
pub mod images;
pub mod logs;
pub mod ps;
pub mod validate;
