//! Small OS helpers every paddock process shares, each written once: atomic
//! file writes with one durability rule ([`fs`]), root-only unix sockets that
//! appear ready ([`unix_socket`]), pid checks ([`process`]), terminals
//! ([`terminal`]), bounded line buffers ([`line_ring`]), the management
//! servers' listen addresses ([`addresses`]) and logging setup ([`logging`]).

pub mod addresses;
pub mod fs;
pub mod line_ring;
pub mod logging;
pub mod process;
pub mod terminal;
pub mod unix_socket;
