//! zt-os: what both binaries need from the operating system, each in one place: the wall
//! clock ([`clock`]), private files written atomically ([`files`]) in directories checked
//! from the user's base directory down ([`private_dir`]), core-dump and ptrace
//! hygiene for processes that hold keys ([`hygiene`]), and the exit statuses the CLI contract
//! promises ([`exit`]).

pub mod clock;
pub mod exit;
pub mod files;
pub mod hygiene;
pub mod manual;
pub mod private_dir;
pub mod stdout;
