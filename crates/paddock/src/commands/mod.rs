//! One file per subcommand.

pub mod add;
pub mod build;
pub mod control;
pub mod edit;
pub mod exec;
pub mod image_build;
pub mod images;
pub mod instance_dir;
pub mod keys;
pub mod logs;
pub mod new;
pub mod ps;
pub mod update;
pub mod validate;
pub mod write;
